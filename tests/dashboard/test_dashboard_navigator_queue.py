"""The hostels plugin's navigators' queue on the dashboard (``hub_register_ui_screens``), in a real browser with
the keyboard alone: navigators see each waiting referral with the services matched for it, allocate one to a
service (the provider receives the offer) and close another; viewers never see the screen; a forged form does
nothing; every showing and action is on the audit log with the navigator's name."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dashboard.conftest import add_users
from dashboard.dash_support import PASSWORDS, check_accessible, login, press, shoot, submit

from hub import UiScreen
from hub.testing.world import HubWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "hostels" / "tests"))
from hostels_feed import FeedServer
from offers_world import TAKER, make_world, steps, three_service_feed, told, unmatched_referral, wait_until


@pytest.fixture
def feed() -> Any:
    server = three_service_feed()
    yield server
    server.close()


def test_a_ui_screen_is_refused_a_role_a_title_or_a_router_it_cannot_have() -> None:
    from fastapi import APIRouter

    with pytest.raises(ValueError, match="role 'boss'"):
        UiScreen("acme", "Acme", APIRouter(), role="boss")
    with pytest.raises(ValueError, match="title is empty"):
        UiScreen("acme", " ", APIRouter())
    with pytest.raises(TypeError, match="not an APIRouter"):
        UiScreen("acme", "Acme", object())
    assert UiScreen("acme", "Acme", APIRouter()).prefix == "/ui/plugins/acme"


def test_navigators_allocate_and_close_referrals_from_the_queue_and_each_act_is_audited(
    browser: Any, hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window="1h")
    add_users(world)
    first = unmatched_referral(world, sender="dropin", source="self")
    second = unmatched_referral(world, sender="dropin", source="self")

    def queued(record: str) -> bool:
        return told(world, record, "dropin") == [("waiting_for_navigator", "self_referral")]

    assert wait_until(lambda: queued(first) and queued(second))

    viewer = browser.new_page()
    try:
        login(viewer, world.url, "vera", PASSWORDS["vera"])
        assert viewer.locator('a.nhsuk-header__navigation-link:text-is("Navigators\' queue")').count() == 0
        assert viewer.goto(f"{world.url}/ui/plugins/hostels/").status == 403
    finally:
        viewer.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        login(page, world.url, "nora", PASSWORDS["nora"])
        press(page, 'a.nhsuk-header__navigation-link:text-is("Navigators\' queue")')
        page.wait_for_url("**/ui/plugins/hostels/")
        check_accessible(page)
        shoot(page, "navigator-queue")
        cards = page.locator("[data-testid=waiting]")
        assert [cards.nth(i).get_attribute("data-record") for i in range(cards.count())] == [first, second]
        assert TAKER in cards.first.locator("[data-testid=ranked]").inner_text()
        assert "self_referral" in cards.first.inner_text()

        close = f"{world.url}/ui/plugins/hostels/close"
        forged = page.request.post(close, form={"record_id": first, "reason_code": "duplicate", "csrf_token": "x"})
        assert forged.status == 403 and told(world, first, "dropin")[-1][0] == "waiting_for_navigator"

        card = f"[data-record='{first}']"
        page.select_option(f"{card} select[name=service_id]", TAKER)
        page.fill(f"{card} input[name=reason]", "triaged: low support needs")
        submit(page, f"{card} button:has-text('Allocate')", "**/ui/plugins/hostels/?done=*")
        assert f"{first}: allocated" in page.inner_text("[data-testid=done]")
        assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=30)
        assert world.sims["hostel-yes"].messages("Referral")[0]["payload"]["service_id"] == "hostel-yes"

        card = f"[data-record='{second}']"
        page.select_option(f"{card} select[name=reason_code]", "duplicate")
        submit(page, f"{card} button:has-text('Close')", "**/ui/plugins/hostels/?done=*")
        assert told(world, second, "dropin")[-1] == ("closed", "duplicate")
        assert wait_until(lambda: steps(world, second, "dropin")[-1:] == [("closed", None)])
        assert page.locator("[data-testid=waiting]").count() == 0

        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        again = page.request.post(close, form={"record_id": second, "reason_code": "duplicate", "csrf_token": token})
        assert "not waiting for a navigator" in again.text()  # redirected to the queue with the refusal
    finally:
        page.close()

    operator = browser.new_page()
    try:
        login(operator, world.url, "alice", PASSWORDS["alice"])
        operator.goto(f"{world.url}/ui/audit?kind=ui_action&actor=nora")
        audited = operator.inner_text("[data-testid=audit]")
        assert "action: allocated" in audited and "action: closed" in audited and "action: viewed_queue" in audited
        assert "triaged" not in audited  # the navigator's free text stays out of the log
    finally:
        operator.close()
