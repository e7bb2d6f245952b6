"""The operator services (``hub.services``) against a real store in a temporary directory, no process."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.auth import hash_token
from hub.bodies import CodecRegistry
from hub.config import Settings
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.services import OperationRefused
from hub.services import key_rotation as rotation
from hub.services.audit import verify_audit
from hub.services.dead_letters import dead_letters
from hub.services.hub_data import HubData
from hub.services.keys import keys_to_rewrap, list_keys, open_key_ring, retire_key, rewrap, rotate_key
from hub.services.messages import find_by_nhs_number, list_messages, view_for_caller, view_message
from hub.services.partner_stats import partner_stats
from hub.services.replay import replay
from hub.services.retention import run_retention
from hub.services.tokens import add_tokens, issue_token
from hub.store.index_rebuild import IndexRebuild
from hub.store.records import Intake, NewDelivery, NewMessage, Outcome
from hub.store.sqlite import SQLiteStore

PASSPHRASE = "a long test passphrase"
T0 = 1.7e9  # when the test's messages arrive


@dataclass
class Place:
    """A store with real encryption, its key ring and the settings naming both."""

    store: SQLiteStore
    ring: FileKeyRing
    settings: Settings


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    monkeypatch.setenv("HUB_KEY_PASSPHRASE", PASSPHRASE)
    ring = FileKeyRing.create(tmp_path / "keys", PASSPHRASE)
    settings = Settings(config_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'hub.db'}", state_dir=tmp_path,
                        keys_dir=tmp_path / "keys")  # fmt: skip
    store = SQLiteStore(tmp_path / "hub.db", CodecRegistry(AesGcmCodec(ring)))
    yield Place(store, ring, settings)
    store.close()


def store_message(
    store: SQLiteStore,
    *,
    sender: str = "trust-a",
    to: str = "council-luton",
    type: str = "HousingRequest",
    at: float = T0,
    in_reply_to: str | None = None,
    body: dict | None = None,
) -> tuple[str, str, str]:
    """Commit one message with one push delivery; return (record id, message id, delivery id)."""
    record, message_id, delivery = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    message = NewMessage(record, message_id, sender, type, json.dumps(body or {"synthetic": True}).encode(), at,
                         in_reply_to=in_reply_to, fingerprint=f"fp-{message_id}")  # fmt: skip
    store.accept_now(
        Intake([message], [NewDelivery(delivery, record, to, "r", "push")], [HubEvent("received", record, at)])
    )
    return record, message_id, delivery


def finish(store: SQLiteStore, state: str, at: float) -> None:
    """Claim every due delivery and record ``state`` (delivered or dead) for each at ``at``."""
    jobs = asyncio.run(store.claim(100, at, 30.0))
    outcomes = [Outcome(j.delivery_id, j.record_id, j.partner, state, j.attempts, at, lease_id=j.lease_id,
                        error=None if state == "delivered" else "HTTP 503") for j in jobs]  # fmt: skip
    asyncio.run(store.record(outcomes))


def audit_rows(store: SQLiteStore) -> int:
    return verify_audit(store).rows


def test_a_dead_delivery_is_listed_with_refused_transmissions_and_replay_queues_it_again(place: Place) -> None:
    record, _, delivery = store_message(place.store)
    finish(place.store, "dead", T0 + 1)
    refusal = {"listener": "mesh", "reason": "bad body", "problems": ["$.type"]}
    place.store.audit([HubEvent("transmission_refused", "", T0 + 2, detail=refusal)])
    letters = dead_letters(place.store)
    assert [(d["delivery_id"], d["message"], d["last_error"]) for d in letters.dead_deliveries] == [
        (delivery, record, "HTTP 503")]  # fmt: skip
    assert [(r["listener"], r["problems"]) for r in letters.refused_transmissions] == [("mesh", ["$.type"])]
    assert set(letters.as_dict()) == {"dead_deliveries", "refused_transmissions"}

    told: list[list[HubEvent]] = []
    events = replay(place.store, [record], notify=told.append, now=T0 + 3)  # by message id: each dead delivery
    assert [(e.kind, e.delivery_id) for e in events] == [("replayed", delivery)]
    assert told == [events]
    assert dead_letters(place.store).dead_deliveries == []
    assert len(asyncio.run(place.store.claim(10, T0 + 3, 30.0))) == 1  # due again


def test_replaying_ids_that_are_not_dead_changes_nothing(place: Place) -> None:
    store_message(place.store)
    told: list[list[HubEvent]] = []
    assert replay(place.store, ["no-such-id"], notify=told.append) == []
    assert told == [[]]


def test_partner_stats_count_and_time_acknowledgements_and_answers(place: Place) -> None:
    _, first, _ = store_message(place.store, at=T0)
    store_message(place.store, at=T0)
    finish(place.store, "delivered", T0 + 10)
    store_message(place.store, sender="council-luton", to="trust-a", type="Acknowledgement", at=T0 + 12,
                  in_reply_to=first)  # fmt: skip
    store_message(place.store, sender="council-luton", to="trust-a", type="HousingAppointment", at=T0 + 70,
                  in_reply_to=first)  # fmt: skip
    rows = {(r["partner"], r["type"]): r for r in partner_stats(place.store)}
    council = rows[("council-luton", "HousingRequest")]
    assert (council["delivered"], council["acknowledged"], council["answered"]) == (2, 1, 1)
    assert council["to_acknowledgement"] == {"median_seconds": 2.0, "max_seconds": 2.0}
    assert council["to_answer"] == {"median_seconds": 60.0, "max_seconds": 60.0}
    assert ("trust-a", "Acknowledgement") not in rows  # acknowledgements are not themselves timed
    seconds = sorted(
        (r.seconds_to_answer or -1) for r in HubData(place.store).reply_times() if r.type == "HousingRequest"
    )
    assert seconds == [-1, 60.0]


def test_nothing_delivered_means_no_stats(place: Place) -> None:
    store_message(place.store)
    assert partner_stats(place.store) == []


def test_viewing_a_body_is_audited_and_a_plain_view_is_not(place: Place) -> None:
    record, _, _ = store_message(place.store, body={"person": "synthetic"})
    before = audit_rows(place.store)
    view = view_message(place.store, record, actor="ops-1", via="test")
    assert view is not None and "body" not in view
    assert audit_rows(place.store) == before
    view = view_message(place.store, record, with_body=True, actor="ops-1", via="test")
    assert view is not None and view["body"] == {"person": "synthetic"}
    assert audit_rows(place.store) == before + 1
    shown = view_message(place.store, record, actor="ops-1", via="test")
    assert shown is not None
    timeline = shown["timeline"]
    assert [e["detail"] for e in timeline if e["event"] == "body_read"] == [{"via": "test"}]
    assert view_message(place.store, "no-such-record", with_body=True, actor="ops-1", via="test") is None
    assert audit_rows(place.store) == before + 1


def test_listing_filters_by_type(place: Place) -> None:
    request, _, _ = store_message(place.store, type="HousingRequest")
    store_message(place.store, type="DischargeNotice")
    assert [r["id"] for r in list_messages(place.store, message_type="HousingRequest")] == [request]


def test_a_search_by_nhs_number_is_audited_and_a_malformed_number_is_refused_unaudited(place: Place) -> None:
    before = audit_rows(place.store)
    with pytest.raises(OperationRefused) as refused:
        find_by_nhs_number(place.store, place.ring.index_key(), "123", actor="ops-1")
    assert "10 digits" in str(refused.value) and "123" not in str(refused.value)
    assert audit_rows(place.store) == before
    assert find_by_nhs_number(place.store, place.ring.index_key(), "943 476 5919", actor="ops-1") == []
    assert audit_rows(place.store) == before + 1
    assert verify_audit(place.store).ok


def test_retention_needs_a_retention_table(place: Place) -> None:
    with pytest.raises(OperationRefused, match=r"\[retention\]"):
        run_retention(place.store, place.settings)


def test_retention_shreds_only_finished_messages_past_their_time(place: Place) -> None:
    old, _, _ = store_message(place.store, at=T0)
    finish(place.store, "delivered", T0 + 1)
    waiting, _, _ = store_message(place.store, at=T0)  # not delivered yet: kept
    settings = Settings(config_dir=place.settings.config_dir, retention_days={"HousingRequest": 1.0})
    run = run_retention(place.store, settings, now=T0 + 2 * 86400)
    assert run.shredded == 1 and run.log_clean
    with pytest.raises(OperationRefused, match=f"body of {old} cannot be read"):
        view_message(place.store, old, with_body=True, actor="ops-1", via="test")
    readable = view_message(place.store, waiting, with_body=True, actor="ops-1", via="test")
    assert readable is not None and readable["body"] == {"synthetic": True}


def test_rotate_then_rewrap_moves_every_data_key_and_frees_the_old_key(place: Place) -> None:
    records = [store_message(place.store)[0] for _ in range(3)]
    old = place.ring.primary_kek_id()
    new = rotate_key(place.ring)
    assert new != old and keys_to_rewrap(place.store, place.ring) == 3
    with pytest.raises(OperationRefused, match="still wraps 3 data keys"):
        retire_key(place.store, place.ring, old)
    batches: list[int] = []
    assert rewrap(place.store, place.ring, batch_size=2, progress=batches.append) == 3
    assert batches == [2, 1] and keys_to_rewrap(place.store, place.ring) == 0
    uses = {u.info.id: u.data_keys for u in list_keys(place.ring, place.store)}
    assert uses[new] == 3 and uses[old] == 0
    retire_key(place.store, place.ring, old)
    for record in records:  # still readable under the new key
        still = view_message(place.store, record, with_body=True, actor="ops-1", via="test")
        assert still is not None and still["body"]


@pytest.mark.parametrize(
    ("rotate", "purpose", "needed_by"),
    [(rotation.rotate_index_key, "index", "searches"), (rotation.rotate_fingerprint_key, "fingerprint", "intake's")],
)
def test_an_old_index_or_fingerprint_key_is_not_retired_while_its_values_are_re_keyed(
    place: Place, rotate: Callable[..., IndexRebuild], purpose: str, needed_by: str
) -> None:
    store_message(place.store)
    state = rotate(place.store, place.ring, "ops-1")
    assert state.old_key_id and not state.finished
    with pytest.raises(OperationRefused, match=f"still needed by {needed_by}"):
        retire_key(place.store, place.ring, state.old_key_id)
    assert {i.id: i.status for i in place.ring.infos()}[state.old_key_id] != "retired"


def test_retiring_the_primary_key_is_refused(place: Place) -> None:
    with pytest.raises(OperationRefused, match="primary"):
        retire_key(place.store, place.ring, place.ring.primary_kek_id())


def test_key_operations_are_refused_when_another_provider_holds_the_keys(place: Place) -> None:
    settings = Settings(config_dir=place.settings.config_dir, key_provider="kms", keys_dir=place.settings.keys_dir)
    with pytest.raises(OperationRefused, match="'kms' provider"):
        open_key_ring(settings)


def test_opening_the_ring_without_the_passphrase_says_which_variable(place: Place, monkeypatch) -> None:
    monkeypatch.delenv("HUB_KEY_PASSPHRASE")
    with pytest.raises(OperationRefused, match="HUB_KEY_PASSPHRASE"):
        open_key_ring(place.settings)


def test_tokens_are_written_as_digests_after_each_id(tmp_path: Path) -> None:
    partners = tmp_path / "partners.toml"
    partners.write_text('# partners\n[[partner]]\nid = "trust-a"\nkind = "nhs_trust"\n\n[[operator]]\nid = "ops"\n')
    tokens = add_tokens(partners)
    assert list(tokens) == ["trust-a", "ops"]
    lines = partners.read_text().splitlines()
    assert lines[0] == "# partners"
    assert lines[lines.index('id = "trust-a"') + 1] == f'token_sha256 = "{hash_token(tokens["trust-a"])}"'
    assert lines[lines.index('id = "ops"') + 1] == f'token_sha256 = "{hash_token(tokens["ops"])}"'
    assert tokens["trust-a"] not in partners.read_text()
    issued = issue_token()
    assert issued.toml_line == f'token_sha256 = "{hash_token(issued.token)}"'


def test_a_message_view_is_shaped_for_who_asks(place: Place) -> None:
    """The one view the API and the CLI share: operators see error texts, partners an outcome, strangers nothing."""
    record, _, delivery = store_message(place.store, sender="trust-a", to="council-luton")
    finish(place.store, "dead", T0 + 1)
    operator = view_for_caller(place.store, record, caller="ops", is_operator=True)
    assert operator is not None and operator["deliveries"][0]["last_error"] == "HTTP 503"
    sender = view_for_caller(place.store, record, caller="trust-a", is_operator=False)
    assert sender is not None and "last_error" not in sender["deliveries"][0]
    assert sender["deliveries"][0]["outcome"] == "dead_lettered"
    recipient = view_for_caller(place.store, record, caller="council-luton", is_operator=False)
    assert recipient is not None and [d["id"] for d in recipient["deliveries"]] == [delivery]
    assert recipient["derived"] == [] and all(e.get("partner") == "council-luton" for e in recipient["timeline"])
    assert view_for_caller(place.store, record, caller="steps-luton", is_operator=False) is None


def test_a_dashboard_users_act_on_a_message_is_shown_to_operators_only(place: Place) -> None:
    """A navigator's allocation (a plugin screen's ``ui_action``) names the service chosen: never the sender's."""
    record, _, _ = store_message(place.store, sender="trust-a", to="steps-luton")
    act = HubEvent("ui_action", record, T0 + 1, detail={"screen": "hostels", "action": "allocate",
                                                       "service_id": "svc-1"}, actor="navigator-1")  # fmt: skip
    place.store.record_view([act])
    operator = view_for_caller(place.store, record, caller="ops", is_operator=True)
    assert operator is not None and "ui_action" in [e["event"] for e in operator["timeline"]]
    sender = view_for_caller(place.store, record, caller="trust-a", is_operator=False)
    assert sender is not None and sender["timeline"] and "svc-1" not in json.dumps(sender)
