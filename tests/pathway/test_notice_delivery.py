"""Reminders and due notices travel like any message (issue 11 item 2): sealed for a partner with envelope keys
and minimised to its data-sharing agreement; one partner's copy changes nothing in another's.

On the embedded scheduler only: which scheduler fired the timer makes no difference to how its notice is
delivered (the worker delivers it), and the behavioural suite covers the firing on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pathway.kit import milestone_toml

from hub.testing.messages import discharge_notice
from hub.testing.world import HubWorld, build_world, standard_partners

KEPT = ["payload.notice", "payload.milestone", "payload.due_at"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubWorld]:
    """trust-a responsible (plain, no agreement); council-luton told of the breach too: it seals, and its
    agreement lets it have PathwayNotices with three payload fields only."""
    agreement = {"types": ["PathwayNotice"], "fields": {"PathwayNotice": KEPT}}
    partners = [replace(p, sealed=True) if p.id == "council-luton" else p
                for p in standard_partners({"council-luton": {"agreement": agreement}})]  # fmt: skip
    built = build_world(tmp_path / "config", partners=partners, start=False)
    toml = milestone_toml(due_seconds=3, remind_seconds=2)
    toml = toml.replace('notify = ["responsible"]', 'notify = ["responsible", "council-luton"]')
    (built.config_dir / "pathways.toml").write_text(toml)
    try:
        yield built.start()
    finally:
        built.stop()


def test_a_due_notice_is_sealed_for_a_sealing_partner_and_minimised_to_its_agreement(world: HubWorld) -> None:
    notice = discharge_notice()
    assert world.send("trust-a", notice).status_code == 202
    council, trust = world.sims["council-luton"], world.sims["trust-a"]
    assert council.wait_for(lambda s: s.messages("PathwayNotice"), timeout=30)
    assert trust.wait_for(lambda s: len(s.messages("PathwayNotice")) == 2, timeout=30)  # its reminder and due
    received = next(r for r in council.received if r.message.get("type") == "PathwayNotice")
    assert received.sealed and received.content_type.startswith("application/jose"), received.content_type
    sealed_copy = received.message
    assert sealed_copy["payload"]["notice"] == "due" and sealed_copy["payload"]["milestone"] == "follow-up"
    assert set(sealed_copy["payload"]) == {"notice", "milestone", "due_at"}, sealed_copy["payload"]
    assert sealed_copy["correlation_id"] == notice["message_id"]  # the envelope fields always travel
    whole = next(n for n in trust.messages("PathwayNotice") if n["payload"]["notice"] == "due")
    assert set(whole["payload"]) == {"notice", "milestone", "milestone_id", "timer_id", "due_at", "responsible"}
    assert whole["message_id"] == sealed_copy["message_id"]  # one notice, two copies
    assert not [r for r in trust.received if r.sealed], "trust-a has no envelope keys: it gets TLS only"
    assert len(council.messages("PathwayNotice")) == 1, "the reminder goes to the responsible partner only"
