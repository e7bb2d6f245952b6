"""A provider's synchronous answer read by a separate ``hub worker`` moves its offer in the serving process's chain.

``hub serve --no-worker`` runs the offer chain's rounds and a ``hub worker`` process beside it delivers: it posts
the offer to the provider's referral form (``form-post``) and reads the form's answer as the provider's
Acknowledgement, stored by the worker. The serving process never saw that commit; it finds the answer on the
offer's delivery in the hub's store, so asking for more, declining and accepting each move the offer.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from hostels_feed import FeedServer
from offers_world import make_world, offers_of, steps, three_service_feed, told, unmatched_referral, wait_until
from test_offers_form_answers import FORM, REPLY

from hub.testing.world import HubWorld, Partner


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def start_worker(world: HubWorld) -> subprocess.Popen[bytes]:
    with (world.config_dir / "worker.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def test_answers_a_worker_read_from_the_form_move_the_offers(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    form = Partner("hostel-form", "hostel", adapter="referral-form", transport="form-post", reply=REPLY)
    world = make_world(hub_world_factory, feed, window="1h", decliner=form, hub_args=("--no-worker",))
    crm = world.sims["hostel-form"]
    answers = iter([b"decision=more_information&reference=W-1",
                    b"decision=declined&reason_code=out_of_area&reference=W-2"])  # fmt: skip
    crm.answer_with(lambda _received: next(answers), FORM)
    worker = start_worker(world)
    try:
        # asks for more: the offer waits for information, the referrer is told, nothing moves on
        first = unmatched_referral(world)
        assert wait_until(lambda: told(world, first) == [("offered", None), ("info_requested", None)]), \
            told(world, first)  # fmt: skip
        assert [o["state"] for o in offers_of(world, "hostel-form")] == ["info_requested"]
        assert wait_until(lambda: steps(world, first) == [("offered", None), ("info_requested", None)])
        assert world.sims["hostel-yes"].messages("Referral") == []
        # declines with a reason: the next service is offered
        second = unmatched_referral(world)
        assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == 1, timeout=30)
        assert wait_until(lambda: told(world, second) == [("offered", None), ("declined", "out_of_area"),
                                                          ("offered", None)]), told(world, second)  # fmt: skip
        assert len(crm.received) == 2
    finally:
        worker.terminate()
        worker.wait(timeout=30)
