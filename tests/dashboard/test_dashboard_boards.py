"""The pathway board, the 48-hour board, alerts and users in a real browser, with the keyboard alone: each screen
has no serious or critical axe-core violation and is photographed (when asked) for docs/dashboard.md.

The hub's ``pathways.toml`` here has a milestone that breaches within seconds, one that stays open, and a
48-hour one a message's recipient must meet; the alerts watch partners' failures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard.conftest import add_users
from dashboard.dash_support import PASSWORDS, check_accessible, login, press, shoot, submit

from hub.testing.messages import discharge_notice, housing_request
from hub.testing.running_hub import wait_until
from hub.testing.world import HubWorld, build_world

PATHWAYS = """timezone = "Europe/London"

[[milestone]]
name = "quick-call"
start = { type = "DischargeNotice", on = "received" }
due = { after = "2s", from = "event" }
responsible = "sender"
closed_by = [{ type = "FollowUp" }]
on_breach = { notify = [] }

[[milestone]]
name = "follow-up"
start = { type = "DischargeNotice", on = "received" }
due = { after = "7d", from = "event" }
responsible = "sender"
closed_by = [{ type = "FollowUp" }]
on_breach = { notify = [] }

[[milestone]]
name = "assessment"
start = { type = "HousingRequest", on = "delivered" }
due = { after = "48h", from = "event" }
responsible = "delivered_to"
closed_by = [{ type = "Acknowledgement" }]
on_breach = { notify = [] }
"""
ADMIN = ("ada", "ada administers the hub")


@pytest.fixture(scope="module")
def board_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """A hub with the pathway above and a webhook for alerts; the test users and an admin; a discharge notice
    (its quick call breaches; the housing request it derives is delivered to council-luton) and two housing
    requests delivered there (48 hours to assess each)."""
    settings = {"alerts": {"interval_seconds": 0.2, "min_interval_seconds": 0,
                           "webhooks": [{"name": "ops", "url": "http://127.0.0.1:9/alerts"}]}}  # fmt: skip
    world = build_world(tmp_path_factory.mktemp("boards") / "config", settings=settings, start=False)
    try:
        (world.config_dir / "pathways.toml").write_text(PATHWAYS)
        world.start(timeout=90)  # a loaded machine starts a hub slowly
        add_users(world, {ADMIN[0]: ("admin", ADMIN[1])})
        yield world
    finally:
        world.stop()


@pytest.fixture(scope="module")
def sent(board_world) -> dict[str, Any]:
    notice = board_world.send("trust-a", discharge_notice()).json()["id"]
    requests_ = [board_world.send("trust-a", housing_request()).json()["id"] for _ in range(2)]
    assert wait_until(lambda: all(board_world.view(r)["status"] != "in_progress" for r in [notice, *requests_]),
                      timeout=60)  # fmt: skip

    def listed() -> list[dict[str, Any]]:
        return list(json.loads(board_world.cli("pathway", "list", "--breached", "--json").stdout))

    assert wait_until(listed, timeout=60)
    breached = listed()
    assert [m["milestone"] for m in breached] == ["quick-call"]
    return {"notice": notice, "requests": requests_, "correlation": breached[0]["correlation_id"]}


@pytest.fixture
def page(browser, board_world) -> Any:
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    login(p, board_world.url, "vera", PASSWORDS["vera"])  # a viewer: the boards hold no personal data
    yield p
    p.close()


def test_the_pathway_board_lists_running_and_breached_milestones_and_leads_to_a_pathway(page, board_world,
                                                                                      sent) -> None:  # fmt: skip
    press(page, "a.nhsuk-header__navigation-link:text-is('Pathway')")
    page.wait_for_url("**/ui/pathway")
    check_accessible(page)
    shoot(page, "pathway")
    breached = page.locator("[data-testid=breached] tbody tr")
    assert breached.count() == 1 and "quick-call" in breached.inner_text() and "overdue" in breached.inner_text()
    running = page.locator("[data-testid=running] tbody").inner_text()
    assert "follow-up" in running and running.count("assessment") == 3 and "quick-call" not in running
    counts = page.locator("[data-testid=counts] tr", has_text="council-luton")
    assert "assessment" in counts.inner_text()
    page.select_option("#f-milestone", "follow-up")
    press(page, "button:has-text('Show')")
    page.wait_for_url("**milestone=follow-up*")
    assert page.locator("[data-testid=running] tbody tr").count() == 1
    assert page.locator("[data-testid=breached] tbody").inner_text().strip() == "None."
    press(page, f"[data-testid=running] a[href='/ui/pathway/{sent['correlation']}']")
    page.wait_for_url(f"**/ui/pathway/{sent['correlation']}")
    check_accessible(page)
    shoot(page, "pathway-one")
    shown = {page.locator("[data-testid=milestone] h2").nth(i).inner_text().split()[0]
             for i in range(page.locator("[data-testid=milestone]").count())}  # fmt: skip
    assert shown == {"quick-call", "follow-up", "assessment"}  # the derived housing request's too
    assert page.goto(f"{board_world.url}/ui/pathway/no-such-pathway").status == 404


def test_the_48_hour_board_lists_what_providers_must_assess_with_the_time_left(page, board_world, sent) -> None:
    press(page, "a.nhsuk-header__navigation-link:text-is('48 hours')")
    page.wait_for_url("**/ui/assessments")
    check_accessible(page)
    shoot(page, "assessments")
    rows = page.locator("[data-testid=assessments] tbody tr")
    assert rows.count() == 3
    for i in range(3):
        text = rows.nth(i).inner_text()
        assert "council-luton" in text and "assessment" in text and "h " in text and "left" in text
        assert "47 h" in text  # 48 hours from delivery, a few seconds ago
    page.goto(f"{board_world.url}/ui/assessments?partner=trust-a")
    assert page.locator("[data-testid=assessments] tbody").inner_text().strip() == "None."


def test_alerts_firing_show_on_the_overview_and_the_alerts_screen(page, board_world, sent) -> None:
    council = board_world.sims["council-luton"]
    council.down = True
    try:
        failing = board_world.send("trust-b", housing_request(sender="trust-b")).json()["id"]
        seen = wait_until(lambda: "council-luton" in page.goto(f"{board_world.url}/ui/").text() and
                          page.locator("[data-testid=alerts-firing]").count() == 1, timeout=60)  # fmt: skip
        assert seen, "the failing partner's alert never showed on the overview"
        assert "Partner council-luton failing since" in page.inner_text("[data-testid=alerts-firing]")
        check_accessible(page)
        press(page, "[data-testid=alerts-firing] a:text-is('All alerts')")
        page.wait_for_url("**/ui/alerts")
        check_accessible(page)
        shoot(page, "alerts")
        row = page.locator("[data-testid=alert-states] tr", has_text="council-luton")
        assert "firing" in row.inner_text() and "partner" in row.inner_text()
        assert wait_until(lambda: page.goto(f"{board_world.url}/ui/alerts") and "council-luton failing since" in
                          page.inner_text("[data-testid=alert-outbox]"), timeout=30)  # fmt: skip
    finally:
        council.down = False
    board_world.view(failing)


def test_an_admin_adds_resets_and_disables_users_in_the_browser_and_each_change_is_audited(browser, board_world,
                                                                                           sent) -> None:  # fmt: skip
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        login(p, board_world.url, *ADMIN)
        press(p, "a.nhsuk-header__navigation-link:text-is('Users')")
        p.wait_for_url("**/ui/users")
        check_accessible(p)
        p.fill("#u-name", "newbie")
        p.select_option("#u-role", "navigator")
        p.fill("#u-password", "newbie's first password")
        p.fill("#u-password-again", "newbie's first password")
        submit(p, "button:has-text('Add the user')", "**/ui/users?done=*")
        assert "newbie added as navigator" in p.inner_text("[data-testid=done]")
        shoot(p, "users")
        p.fill("#u-name", "short")
        p.fill("#u-password", "too short")
        p.fill("#u-password-again", "too short")
        press(p, "button:has-text('Add the user')")
        assert "at least 12 characters" in p.inner_text(".nhsuk-error-summary")
        row = p.locator("tr[data-user=newbie]")
        row.locator("input[name=password]").fill("newbie's second password")
        submit(p, "tr[data-user=newbie] button:has-text('Set')", "**/ui/users?done=*")
        assert "newbie has a new password" in p.inner_text("[data-testid=done]")
        submit(p, "tr[data-user=newbie] button:has-text('Disable')", "**/ui/users?done=*")
        assert "disabled" in p.locator("tr[data-user=newbie]").inner_text()
        assert p.locator("tr[data-user=ada] button:has-text('Disable')").count() == 0  # not oneself
        forged = p.request.post(f"{board_world.url}/ui/users/disable", form={"name": "ada", "csrf_token": "x"})
        assert forged.status == 403
        token = p.locator("input[name=csrf_token]").first.get_attribute("value")
        own = p.request.post(f"{board_world.url}/ui/users/disable", form={"name": "ada", "csrf_token": token})
        assert own.status == 409 and "cannot disable yourself" in own.text()
        # the last admin: even another admin's session cannot disable it (the store counts)
        assert "last enabled admin" in board_world.cli("users", "disable", "ada").stderr
        p.goto(f"{board_world.url}/ui/audit?actor=ada")
        audited = p.inner_text("[data-testid=audit]")
        for kind in ("user added", "user password reset", "user disabled"):
            assert kind in audited, kind
    finally:
        p.close()
    viewer = browser.new_page()
    try:
        login(viewer, board_world.url, "vera", PASSWORDS["vera"])
        assert viewer.goto(f"{board_world.url}/ui/users").status == 403
        assert viewer.locator("a.nhsuk-header__navigation-link:text-is('Users')").count() == 0
    finally:
        viewer.close()
