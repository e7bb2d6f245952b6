"""The dashboard's screens in a real browser, used with the keyboard alone: overview, search, one message as a
tree with its body shown (audited), dead letters dropped and replayed in bulk; axe-core finds no serious or critical
violation on any of them, and each is photographed for docs/dashboard.md."""

from __future__ import annotations

from typing import Any

import pytest
from dashboard.dash_support import NHS_NUMBER, PASSWORDS, check_accessible, holds_nhs_number, login, press, shoot

from hub.testing.messages import discharge_notice, housing_request
from hub.testing.running_hub import wait_until


@pytest.fixture(scope="module")
def sent(dash_world) -> dict[str, Any]:
    """A discharge notice (it derives messages for other partners), housing requests, and four dead letters."""
    notice = dash_world.send("trust-a", discharge_notice()).json()["id"]
    requests_ = [dash_world.send("trust-a", housing_request()).json()["id"] for _ in range(3)]
    assert wait_until(lambda: all(dash_world.view(r)["status"] != "in_progress" for r in [notice, *requests_]),
                      timeout=60)  # fmt: skip
    council = dash_world.sims["council-luton"]
    council.down = True
    dead = [dash_world.send("trust-b", housing_request(sender="trust-b")).json()["id"] for _ in range(4)]
    assert wait_until(lambda: all(dash_world.view(r)["status"] == "dead_lettered" for r in dead), timeout=60)
    return {"notice": notice, "requests": requests_, "dead": dead}


@pytest.fixture
def page(browser, dash_world) -> Any:
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    login(p, dash_world.url, "alice", PASSWORDS["alice"])
    yield p
    p.close()


def test_the_overview_shows_rates_queues_and_failing_partners_and_its_counters_lead_to_the_list(
    page, dash_world, sent
) -> None:
    page.goto(f"{dash_world.url}/ui/")
    check_accessible(page)
    assert page.locator("svg.hub-chart").count() == 1
    assert "council-luton" in page.inner_text(".nhsuk-warning-callout")  # four dead letters: failing
    shoot(page, "overview")
    row = page.locator("tr", has_text="trust-b").filter(has_text="HousingRequest")
    assert row.locator("[data-testid=count]").inner_text() == "4"
    press(page, '[data-testid=count][href*="partner=trust-b"]')
    page.wait_for_url("**/ui/messages?partner=trust-b*")
    assert page.locator("[data-testid=results] tbody tr").count() == 4


def test_search_by_nhs_number_correlation_and_state_with_the_keyboard(page, dash_world, sent) -> None:
    page.goto(f"{dash_world.url}/ui/messages")
    check_accessible(page)
    press(page, "#f-nhs_number", "Tab")  # reached by keyboard; typing follows
    page.keyboard.press("Shift+Tab")
    page.keyboard.type(NHS_NUMBER)
    press(page, "button:has-text('Search')")
    page.wait_for_selector("[data-testid=results]")
    links = page.locator("[data-testid=results] tbody a")
    found = {links.nth(i).get_attribute("href").rsplit("/", 1)[1] for i in range(links.count())}
    derived = {d["id"] for d in dash_world.view(sent["notice"])["derived"]}
    assert found == {sent["notice"], *derived, *sent["requests"], *sent["dead"]}  # every message about the person
    assert NHS_NUMBER not in page.url
    shoot(page, "messages")
    correlation = dash_world.view(sent["requests"][0])["correlation_id"]
    page.goto(f"{dash_world.url}/ui/messages")
    page.fill("#f-correlation_id", correlation)
    press(page, "button:has-text('Search')")
    page.wait_for_selector("[data-testid=results]")
    links = page.locator("[data-testid=results] tbody a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [f"/ui/messages/{sent['requests'][0]}"]
    page.goto(f"{dash_world.url}/ui/messages?state=dead&all=1")
    assert page.locator("[data-testid=results] tbody tr").count() == 4


def test_one_message_as_a_tree_with_its_body_shown_and_the_showing_audited(page, dash_world, sent) -> None:
    record = sent["notice"]
    view = dash_world.view(record)
    assert view["derived"], "the discharge notice derived no messages"
    page.goto(f"{dash_world.url}/ui/messages/{record}")
    check_accessible(page)
    for child in view["derived"]:
        assert page.locator(f".hub-tree a[href='/ui/messages/{child['id']}']").count() == 1
    for delivery in view["deliveries"]:
        assert page.locator("table", has_text=delivery["partner"]).count() >= 1
    assert not holds_nhs_number(page.content())
    shoot(page, "message")
    press(page, "button:has-text('Show the body')")
    page.wait_for_selector("[data-testid=body]")
    assert holds_nhs_number(page.inner_text("[data-testid=body]"))
    check_accessible(page)
    shoot(page, "message-body")
    timeline = dash_world.view(record)["timeline"]
    assert any(e["event"] == "body_read" and e["detail"].get("via") == "dashboard" for e in timeline)


def test_partners_show_last_delivery_failing_since_backlog_and_reply_times(page, dash_world, sent) -> None:
    page.goto(f"{dash_world.url}/ui/partners")
    check_accessible(page)
    shoot(page, "partners")
    council = page.locator("[data-testid=partners] tr", has_text="council-luton")
    cells = council.locator("td")
    assert cells.nth(1).inner_text() != "never"  # it took the first housing requests
    assert cells.nth(2).locator(".nhsuk-tag").count() == 1  # four dead letters: failing since then
    assert cells.nth(4).inner_text() == "4"
    assert "HousingRequest" in cells.nth(5).inner_text()
    quiet = page.locator("[data-testid=partners] tr", has_text="council-beds").locator("td")
    assert quiet.nth(1).inner_text() == "never" and quiet.nth(2).inner_text() == "not failing"


def test_the_audit_log_is_searchable_and_its_chain_verified_by_keyboard(browser, page, dash_world, sent) -> None:
    page.goto(f"{dash_world.url}/ui/messages/{sent['requests'][1]}")
    press(page, "button:has-text('Show the body')")
    page.wait_for_selector("[data-testid=body]")
    page.goto(f"{dash_world.url}/ui/audit")
    check_accessible(page)
    page.fill("#f-actor", "alice")
    page.select_option("#f-kind", "body_read")
    press(page, "button:has-text('Search the log')")
    page.wait_for_url("**/ui/audit?actor=alice*")
    rows = page.locator("[data-testid=audit] tbody tr")
    assert rows.count() >= 1 and page.locator(f"a[href='/ui/messages/{sent['requests'][1]}']").count() == 1
    assert all("body read" in rows.nth(i).inner_text() for i in range(rows.count()))
    press(page, "button:has-text('Verify the chain now')")
    page.wait_for_selector("[data-testid=verified]")
    assert "The chain holds" in page.inner_text("[data-testid=verified]")
    shoot(page, "audit")
    viewer = browser.new_page()
    login(viewer, dash_world.url, "vera", PASSWORDS["vera"])
    assert viewer.goto(f"{dash_world.url}/ui/audit").status == 403
    assert viewer.locator("a[href='/ui/audit']").count() == 0
    viewer.close()


def test_dead_letters_dropped_replayed_one_and_in_bulk_after_a_confirmation(page, dash_world, sent) -> None:
    page.goto(f"{dash_world.url}/ui/dead-letters?partner=council-luton")
    check_accessible(page)
    shoot(page, "dead-letters")
    assert page.locator("[data-testid=dead] tbody tr").count() == 4
    first = sent["dead"][0]
    first_delivery = dash_world.view(first)["deliveries"][0]["id"]
    press(page, f"#reason-{first_delivery}", "ArrowDown")  # the select, by keyboard: the second reason
    press(page, f"button[aria-label='Drop the delivery of {first} to council-luton']")
    page.wait_for_selector("[data-testid=done]")
    assert "1 dead letter dropped" in page.inner_text("[data-testid=done]")
    dropped = dash_world.view(first)
    assert dropped["deliveries"][0]["state"] == "cancelled"
    assert [e["detail"] for e in dropped["timeline"] if e["event"] == "dropped"] == [{"reason": "superseded"}]

    dash_world.sims["council-luton"].down = False  # what is replayed now is delivered, not dead again
    second = sent["dead"][1]
    press(page, f"button[aria-label='Replay the delivery of {second} to council-luton']")
    page.wait_for_selector("[data-testid=done]")
    assert "1 delivery queued again" in page.inner_text("[data-testid=done]")
    assert wait_until(lambda: dash_world.view(second)["status"] == "delivered", timeout=60)

    press(page, "button:has-text('Replay all 2 shown')")
    page.wait_for_selector("[data-testid=bulk-count]")
    assert page.inner_text("[data-testid=bulk-count]").startswith("2 dead deliveries to council-luton")
    check_accessible(page)
    shoot(page, "bulk-confirm")
    press(page, "button:has-text('Yes, replay 2')")
    page.wait_for_selector("[data-testid=done]")
    assert "2 deliveries queued again" in page.inner_text("[data-testid=done]")
    rest = sent["dead"][1:]
    assert wait_until(lambda: all(dash_world.view(r)["status"] == "delivered" for r in rest), timeout=60)
    for record in rest:
        events = [e["event"] for e in dash_world.view(record)["timeline"]]
        assert events.index("dead_lettered") < events.index("replayed") < events.index("delivered")
    page.goto(f"{dash_world.url}/ui/dead-letters?partner=council-luton")
    assert "No dead letters." in page.inner_text("[data-testid=dead]")


def test_logging_out_with_the_keyboard(page, dash_world) -> None:
    press(page, "button:has-text('Log out')")
    page.wait_for_url(f"{dash_world.url}/ui/login")
