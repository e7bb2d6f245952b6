"""A running hub with three hostels on three directory services, for the offer chain's end-to-end tests.

``make_world`` writes a ``pathways.toml`` whose ``offer-window`` and ``assessment-after-acceptance`` milestones
have the offsets a test gives (the hub's pathway keeps their time), imports a three-service feed and has each
hostel record its capacity through the API: one full, the decliner with 3 places (offered first: its figure is
the freshest), the taker with 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hostels_feed import Feed, FeedServer, synthetic_service

from hub.testing.messages import example
from hub.testing.world import HubWorld, Partner, example_routes

FULL, DECLINER, TAKER = "svc-000000", "svc-000001", "svc-000002"


def three_service_feed() -> FeedServer:
    """A loopback feed of the three services (close it when done)."""
    return FeedServer(Feed(count=3, make=lambda i: synthetic_service(i)))


PATHWAYS = """[[milestone]]
name = "offer-window"
start = { type = "Referral", on = "delivered" }
when = [{ field = "payload.offer_id", exists = true }]
due = { after = "WINDOW", from = "event" }
responsible = "delivered_to"
closed_by = [{ type = "Acknowledgement", when = [{ field = "payload.status", in = ["accepted", "rejected"] }] }]
on_breach = { notify = [] }

[[milestone]]
name = "assessment-after-acceptance"
start = { type = "Acknowledgement", on = "received" }
when = [{ field = "payload.reason_code", equals = "offer_accepted" }]
due = { after = "ASSESS", from = "event" }
remind_before = "REMIND"
responsible = "sender"
closed_by = [{ type = "Acknowledgement", when = [{ field = "payload.reason_code", equals = "assessed" }] }]
on_breach = { notify = ["responsible"] }
"""


def make_world(factory: Callable[..., HubWorld], feed: FeedServer, window: str, *, assess: str = "1h",
               remind: str = "30min", decliner: Partner | None = None,
               before_start: Callable[[HubWorld], None] | None = None,
               hub_args: tuple[str, ...] = (), referrers: tuple[Partner, ...] = (),
               offers: dict[str, Any] | None = None) -> HubWorld:  # fmt: skip
    """Three hostels on the three services, a referrer, a self-referral taker and a navigator; ``window`` is the
    offer window's milestone offset (the hub's pathway keeps it), ``assess`` the assessment's; ``hub_args`` are
    added to ``hub serve`` (``--no-worker``: deliveries left to a ``hub worker`` the test starts); ``referrers``
    are more partners (a trust that refers, in its own format); ``offers`` is ``[plugins.hostels.offers]``."""
    routes = example_routes()
    for route in routes:
        if route["name"] == "referral":
            route["to"] = {"kind": "referral-taker", "takers": ["dropin"]}
    decliner = decliner or Partner("hostel-no", "hostel")
    partners = [Partner("cc-team", "referrer"), Partner("dropin", "charity"), Partner("nav", "navigator")]
    partners += [Partner("hostel-full", "hostel"), decliner, Partner("hostel-yes", "hostel"), *referrers]
    links = [{"id": sid, "partner": p, "unit": "bed", "needs": ["mental_health"]}
             for sid, p in ((FULL, "hostel-full"), (DECLINER, decliner.id), (TAKER, "hostel-yes"))]  # fmt: skip
    settings = {"plugins": {"hostels": {"service": links, **({"offers": offers} if offers else {})}}}
    world = factory(partners, routes=routes, settings=settings, start=False, hub_args=hub_args)
    pathways = PATHWAYS.replace("WINDOW", window).replace("ASSESS", assess).replace("REMIND", remind)
    (world.config_dir / "pathways.toml").write_text(pathways)
    if before_start is not None:
        before_start(world)
    world.start()
    imported = world.cli("directory", "import", feed.url)
    assert imported.returncode == 0, imported.stderr
    # capacity from the providers; the most recent figure is offered first: the decliner, then the taker
    for who, sid, places in (("hostel-full", FULL, 0), ("hostel-yes", TAKER, 1), (decliner.id, DECLINER, 3)):
        put = world.as_(who).put(f"{world.url}/plugins/hostels/services/{sid}/capacity", json={"available": places},
                                 timeout=10)  # fmt: skip
        assert put.status_code == 200, put.text
        time.sleep(0.05)
    return world


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``check()`` once it is truthy (polled), else the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = check()
    return value


SENT: dict[str, str] = {}
"""The message id of each Referral a test posted, by its record id."""


def steps(world: HubWorld, record: str, who: str = "cc-team") -> list[tuple[str, str | None]]:
    """The steps the referrer received as ReferralUpdates about ``record``, in the order they arrived (the hub
    sends one correlation's messages to one partner in order), with a decline's reason or why it waits."""
    found = [m["payload"] for m in world.sims[who].messages("ReferralUpdate")
             if m["payload"]["referral_message_id"] == SENT[record]]  # fmt: skip
    return [(p["step"], p.get("reason_code") or p.get("waiting_because")) for p in found]


def unmatched_referral(world: HubWorld, sender: str = "cc-team", source: str = "professional",
                       via: str | None = None) -> str:  # fmt: skip
    """Post a Referral that names no provider (to the hub at ``via``, else the world's); return its record id."""
    message = example("referral", sender={"org_id": sender})
    message.pop("recipient", None)
    del message["payload"]["service_id"]
    message["payload"]["source"] = source
    message["payload"]["support_needs"] = ["mental health"]
    if via is None:
        answer = world.send(sender, message)
    else:
        answer = world.as_(sender).post(f"{via}/v1/messages", json=message, timeout=15)
    assert answer.status_code == 202, answer.text
    SENT[str(answer.json()["id"])] = message["message_id"]
    return str(answer.json()["id"])


def call(world: HubWorld, who: str, method: str, path: str, body: Any = None) -> Any:
    return world.as_(who).request(method, f"{world.url}/plugins/hostels{path}", json=body, timeout=15)


def offers_of(world: HubWorld, who: str) -> list[dict[str, Any]]:
    answer = call(world, who, "GET", "/offers")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["offers"])


def told(world: HubWorld, record: str, who: str = "cc-team") -> list[tuple[str, str | None]]:
    answer = call(world, who, "GET", f"/referrals/{record}")
    if answer.status_code == 404:  # not in the chain yet: the next round takes it in
        return []
    view = answer.json()
    return [(step["step"], step["detail"]) for step in view["told"]]


def pathway(world: HubWorld, correlation: str) -> dict[str, Any]:
    answer = world.get("ops", f"/v1/pathways/{correlation}")
    return dict(answer.json()) if answer.status_code == 200 else {}


def milestone_of(world: HubWorld, correlation: str, name: str, state: str) -> dict[str, Any] | None:
    found = [m for m in pathway(world, correlation).get("milestones", []) if m["milestone"] == name]
    return next((m for m in found if m["state"] == state), None)
