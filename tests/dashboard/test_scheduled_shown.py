"""The message screen says "scheduled until <time>" of a delivery due later (a pathway notice before its time),
and nothing of the kind of one due now (issue 11 item 2). No browser: the screen's deliveries table, rendered from
a store's message view."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from contract.stores import open_test_store, plan

from hub.store.records import NewDelivery
from hub.ui.web import _env, when


def test_the_deliveries_table_shows_a_scheduled_delivery_scheduled_until_its_time(tmp_path: Path) -> None:
    store = open_test_store(tmp_path)
    try:
        now = time.time()
        intake = plan(str(uuid.uuid4()), at=now)  # one delivery due now, to council-luton
        later = now + 3600
        intake.deliveries.append(NewDelivery(str(uuid.uuid4()), intake.messages[0].id, "hostel-a", "pathway", "push",
                                             not_before=later))  # fmt: skip
        view = store.message_view(store.accept_now(intake).id)
    finally:
        store.close()
    assert view is not None
    html = _env.get_template("_deliveries.html").render(m=view)
    scheduled = next(d for d in view["deliveries"] if d["partner"] == "hostel-a")
    assert f"scheduled until {when(scheduled['scheduled_until'])}" in html
    assert html.count("scheduled until") == 1
