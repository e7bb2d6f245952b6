"""The ``airflow`` milestone scheduler: one queued DAG run per pathway timer, through Airflow 3's REST API.

A timer ``T`` due at ``D`` becomes a run of the hub's DAG (``hub airflow dag``) with run id ``hub-T``,
``run_after = D`` and ``conf = {"timer_id": T, "hub_url": ...}``. Airflow keeps the run queued until ``D`` (no
worker, no sensor holds it), then its task calls the hub back. The run id is the timer's, so every call is
idempotent and Airflow's queue can be compared with the hub's open timers (``queued``, for
``hub pathway reconcile``). The hub's store stays the record of what is due: this class only asks Airflow.

Airflow refuses a token with 401 when it has expired and 403 "Invalid JWT token" when it no longer verifies (its
signing key changed): either way the scheduler signs in again once and repeats the call. Every fault that may
pass (Airflow unreachable, a timeout, a 5xx, a refused sign-in, a DAG not deployed yet) is raised as
``SchedulerUnavailable`` with what Airflow said; the hub retries with backoff and shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import urllib3
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api_client import ApiClient
from airflow_client.client.configuration import Configuration
from airflow_client.client.exceptions import ApiException
from airflow_client.client.models.dag_run_mutable_states import DagRunMutableStates
from airflow_client.client.models.dag_run_patch_body import DAGRunPatchBody
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody
from pydantic import ValidationError

from hub import SchedulerUnavailable
from hub_airflow.auth import SignInFailed, TokenSource
from hub_airflow.settings import AirflowSettings

RUN_ID_PREFIX = "hub-"
TIMER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,207}$")
HELD_STATES = ("queued", "running")
"""The run states in which Airflow still holds a timer un-fired (a running run may be retrying its callback)."""
PAGE = 100

T = TypeVar("T")


def run_id_of(timer_id: str) -> str:
    """The DAG run id of a timer: ``hub-<timer id>``."""
    return f"{RUN_ID_PREFIX}{timer_id}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class AirflowScheduler:
    """A ``MilestoneScheduler`` backed by an Airflow 3 deployment (see the module's docstring).

    Thread-safe: the API client's pool and the token source may be shared by the hub's threads. Opening it makes
    no request; the first call signs in.
    """

    in_store = False

    def __init__(self, settings: AirflowSettings) -> None:
        self.settings = settings
        configuration = Configuration(host=settings.url, ssl_ca_cert=settings.ca_file, retries=False)
        self._client = ApiClient(configuration)
        self._runs = DagRunApi(self._client)
        self._pool = urllib3.PoolManager(ca_certs=settings.ca_file) if settings.ca_file else urllib3.PoolManager()
        self.tokens = TokenSource(settings, self._pool)

    # -- the MilestoneScheduler protocol ---------------------------------------------------------------------

    def schedule(self, timer_id: str, due_at: datetime, conf: Mapping[str, str]) -> None:
        """Queue a run ``hub-<timer_id>`` that starts at ``due_at``; a run already queued for that time is a success.

        A run of that id that exists in another state is replaced: queued for another time (the due time moved),
        or finished without the timer being closed (the hub would not ask otherwise: its callbacks failed, or
        came early). A run that is running now is left alone: it is calling the hub back.
        """
        _check_timer_id(timer_id)
        if due_at.tzinfo is None or due_at.utcoffset() is None:
            raise ValueError(f"due_at for timer {timer_id} must be an aware datetime, got {due_at!r}")
        body = TriggerDAGRunPostBody(
            dag_run_id=run_id_of(timer_id),
            conf={**conf, "timer_id": timer_id, "hub_url": conf.get("hub_url") or self.settings.hub_url},
            run_after=_utc(due_at),
            logical_date=None,
        )
        if self._trigger(body):
            return
        existing = self._get_run(timer_id)
        if existing is not None:
            state = str(existing.state.value if hasattr(existing.state, "value") else existing.state)
            if state == "running" or (state == "queued" and _utc(existing.run_after) == _utc(due_at)):
                return
            self.cancel(timer_id)
        if not self._trigger(body):
            raise SchedulerUnavailable(f"Airflow holds another run {run_id_of(timer_id)} of DAG "
                                       f"{self.settings.dag_id} that could not be replaced; try again")  # fmt: skip

    def cancel(self, timer_id: str) -> None:
        """Delete the run ``hub-<timer_id>`` so it never calls back; no such run is a success.

        Airflow refuses to delete a running run (409): its task is calling the hub back or waiting to retry. Such
        a run is marked failed first, which stops its task, then deleted. A callback already on its way is
        answered by the hub, which knows the timer is closed.
        """
        _check_timer_id(timer_id)
        if self._delete(timer_id):
            return
        self._call(f"stop run {run_id_of(timer_id)}", lambda headers: self._stop(timer_id, headers))
        if not self._delete(timer_id):
            raise SchedulerUnavailable(f"Airflow still runs {run_id_of(timer_id)} of DAG {self.settings.dag_id} "
                                       "after it was marked failed; try again")  # fmt: skip

    def queued(self) -> dict[str, datetime]:
        """``timer_id -> run_after`` of the hub's runs that Airflow still holds (queued, or running a callback)."""
        held: dict[str, datetime] = {}
        cursor = ""
        while True:

            def page(headers: dict[str, str], cursor: str = cursor) -> Any:
                return self._runs.get_dag_runs(
                    self.settings.dag_id, state=list(HELD_STATES), run_id_prefix_pattern=RUN_ID_PREFIX,
                    limit=PAGE, cursor=cursor, _headers=headers, _request_timeout=self.settings.timeout_seconds,
                )  # fmt: skip

            result = self._call("list queued runs", page)
            for run in result.dag_runs:
                if run.dag_run_id.startswith(RUN_ID_PREFIX):
                    held[run.dag_run_id[len(RUN_ID_PREFIX) :]] = _utc(run.run_after)
            if not result.next_cursor or not result.dag_runs:
                return held
            cursor = result.next_cursor

    def close(self) -> None:
        """Release the connection pools."""
        self._client.rest_client.pool_manager.clear()
        self._pool.clear()

    # -- requests --------------------------------------------------------------------------------------------

    def _trigger(self, body: TriggerDAGRunPostBody) -> bool:
        """Trigger the run; False when a run of that id exists already (409)."""

        def trigger(headers: dict[str, str]) -> bool:
            try:
                self._runs.trigger_dag_run(self.settings.dag_id, body, _headers=headers,
                                           _request_timeout=self.settings.timeout_seconds)  # fmt: skip
            except ApiException as error:
                if error.status == 409:
                    return False
                raise
            return True

        return self._call(f"trigger run {body.dag_run_id}", trigger)

    def _delete(self, timer_id: str) -> bool:
        """Delete the run; True when it is gone (or never was), False when Airflow refuses because it is running."""

        def delete(headers: dict[str, str]) -> bool:
            try:
                self._runs.delete_dag_run(self.settings.dag_id, run_id_of(timer_id), _headers=headers,
                                          _request_timeout=self.settings.timeout_seconds)  # fmt: skip
            except ApiException as error:
                if error.status == 409:
                    return False
                if error.status != 404:
                    raise
            return True

        return self._call(f"delete run {run_id_of(timer_id)}", delete)

    def _stop(self, timer_id: str, headers: dict[str, str]) -> None:
        """Mark the run failed (Airflow stops its task); a run that is gone meanwhile is fine."""
        try:
            self._runs.patch_dag_run(self.settings.dag_id, run_id_of(timer_id),
                                     DAGRunPatchBody(state=DagRunMutableStates.FAILED), update_mask=["state"],
                                     _headers=headers, _request_timeout=self.settings.timeout_seconds)  # fmt: skip
        except ApiException as error:
            if error.status != 404:
                raise

    def _get_run(self, timer_id: str) -> Any | None:
        """The run ``hub-<timer_id>``, or None when there is none."""

        def get(headers: dict[str, str]) -> Any | None:
            try:
                return self._runs.get_dag_run(self.settings.dag_id, run_id_of(timer_id), _headers=headers,
                                              _request_timeout=self.settings.timeout_seconds)  # fmt: skip
            except ApiException as error:
                if error.status == 404:
                    return None
                raise

        return self._call(f"read run {run_id_of(timer_id)}", get)

    def _call(self, what: str, request: Callable[[dict[str, str]], T]) -> T:
        """Run ``request`` with the current token, signing in again once on 401; faults as SchedulerUnavailable."""
        where = f"Airflow at {self.settings.url} (DAG {self.settings.dag_id})"
        try:
            token = self.tokens.current()
            try:
                return request(_bearer(token))
            except ApiException as error:
                if not _token_refused(error):
                    raise
                token = self.tokens.refresh(token)
                return request(_bearer(token))
        except SignInFailed as error:
            raise SchedulerUnavailable(f"could not {what}: {error}") from None
        except ApiException as error:
            reason = _reason(error)
            raise SchedulerUnavailable(f"could not {what}: {where} answered {error.status}{reason}") from None
        except urllib3.exceptions.HTTPError as error:
            raise SchedulerUnavailable(
                f"could not {what}: {where} could not be reached ({type(error).__name__})"
            ) from None
        except ValidationError as error:
            raise SchedulerUnavailable(f"could not {what}: {where} answered something this client cannot read "
                                       f"({error.error_count()} problem(s); is it Airflow 3.3?)") from None  # fmt: skip


def _token_refused(error: ApiException) -> bool:
    """Whether Airflow refused the token itself: 401 (missing or expired) or 403 "Invalid JWT token" (its signing
    key changed, or the token was never valid). A 403 for a lack of permission is not mended by signing in again."""
    return error.status == 401 or (error.status == 403 and "Invalid JWT" in str(error.body or ""))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _reason(error: ApiException) -> str:
    """Airflow's ``detail`` for a refused call, short (it names runs and DAGs, never personal data)."""
    import json

    try:
        detail = json.loads(error.body or "")["detail"]
    except (ValueError, KeyError, TypeError):
        return ""
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return f": {text[:200]}"


def _check_timer_id(timer_id: str) -> None:
    if not TIMER_ID.match(timer_id):
        raise ValueError(f"not a timer id (1-207 characters of A-Z a-z 0-9 . _ -): {timer_id!r}")


def open_airflow_scheduler(settings: Mapping[str, Any]) -> AirflowScheduler:
    """Open the scheduler from the ``[pathway.airflow]`` table (a ConfigError naming a bad key); no request yet."""
    from hub_airflow.settings import read_settings

    return AirflowScheduler(read_settings(settings))
