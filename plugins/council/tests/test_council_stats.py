"""Council response times are computed from the reply times the hub hands to plugins, never from its store file."""

from __future__ import annotations

from pathlib import Path

from hub_council.stats import council_stats

from hub import ReplyTime
from hub.testing import run_hub_cli


def test_stats_count_referrals_per_council_and_time_their_first_answers() -> None:
    rows = [
        ReplyTime("council-a", "HousingRequest", 100.0, 101.0, 160.0),
        ReplyTime("council-a", "HousingRequest", 100.0, None, 220.0),
        ReplyTime("council-a", "HousingRequest", 100.0, None, None),
        ReplyTime("council-b", "HousingRequest", 100.0, None, None),
        ReplyTime("council-b", "DischargeNotice", 100.0, None, 105.0),  # not a referral: left out
    ]
    stats = {s.partner: s for s in council_stats(rows)}
    assert list(stats) == ["council-a", "council-b"]
    a, b = stats["council-a"], stats["council-b"]
    assert (a.referrals_delivered, a.answered, a.waiting) == (3, 2, 1)
    assert (a.median_seconds, a.p90_seconds, a.max_seconds) == (90.0, 120.0, 120.0)
    assert (b.referrals_delivered, b.answered, b.waiting, b.median_seconds) == (1, 0, 1, None)


def test_council_stats_without_a_store_says_so_and_creates_none(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "hub.toml").write_text('[store]\npath = "../state/hub.db"\n')
    result = run_hub_cli(config, "council-stats")
    assert result.returncode == 1
    assert f"no store at {tmp_path / 'state' / 'hub.db'}; nothing has been delivered yet" in result.stderr
    assert not (tmp_path / "state").exists()
