"""``hub demo`` plays the hostels plugin's scene: an allocation chain with one full, one declining and one
accepting hostel, the coordinator told each step (``hub_hostels.demo_scene``)."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_shows_an_allocation_chain() -> None:
    result = subprocess.run([sys.executable, "-m", "hub", "demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    chain = out[out.index("Allocation chain: a referral naming no provider, three hostels") :]
    for line in (
        "demo-hostel-full -> records 0 places free",
        "demo-coordinator -> sends a Referral naming no provider: the hub matches it",
        "demo-hostel-decliner <- received Referral (an offer)",
        "demo-coordinator <- received Acknowledgement (rejected, risk)",
        "demo-hostel-taker <- received Referral (an offer)",
        "demo-coordinator <- received ReferralUpdate (declined: risk)",
        "demo-coordinator <- received ReferralUpdate (accepted)",
        "allocation chain: offered, declined (risk), offered, accepted",
    ):
        assert line in chain, f"missing {line!r} in:\n{chain}"
    assert "demo-hostel-full <- received" not in chain  # the full hostel is never offered
    assert chain.index("demo-hostel-decliner <- received Referral") < chain.index("demo-hostel-taker <- received")
