"""The partner hub's pathway timers on Apache Airflow 3 (shipped by hub-plugin-airflow: ``hub airflow dag``).

The hub triggers one run of this DAG per timer (a milestone's reminder or due time), with the run id
``hub-<timer id>``, ``run_after`` set to the due time and ``conf = {"timer_id": ..., "hub_url": ...}``. The run
stays queued until then; its one task calls the hub back, ``POST <hub_url>/v1/pathway/timers/<timer id>/fire``,
with the hub's scheduler token. The hub decides what firing means: this task only carries the call.

Set in Airflow (never in a run's conf):

- the scheduler token: environment variable ``HUB_SCHEDULER_TOKEN`` of the workers, or Airflow Variable
  ``hub_scheduler_token``, or the password of Airflow Connection ``hub_pathway``;
- the hub's URL (required): environment variable ``HUB_PATHWAY_HUB_URL``, or Variable ``hub_pathway_hub_url``,
  or the host of Connection ``hub_pathway``; ``https://`` (``http://`` only for a loopback host: 127.0.0.0/8,
  ::1, localhost). The token is only ever sent there: without it, or with a plain http URL to another host, the
  task calls nothing and fails (Airflow retries it, so setting it in time lets the timer fire), and a run whose
  conf names another URL fails at once without calling anything;
- optionally ``HUB_PATHWAY_CA_FILE`` (a CA bundle for the hub's TLS certificate), and, read when the file is
  parsed, ``HUB_PATHWAY_TASK_RETRIES`` (default 12) and ``HUB_PATHWAY_RETRY_DELAY_SECONDS`` (default 60,
  doubling up to an hour).

The task succeeds when the hub answered 200 with an outcome (``fired``, ``already_fired``, ``closed``,
``unknown``): each of those is final and recorded by the hub. It fails, and Airflow retries it, when the hub
cannot be reached, times out, answers 5xx, 401, 403, 404, 408 or 429, or answers ``not_yet_due`` (this
machine's clock ran ahead of the hub's). A run whose conf is malformed fails at once, without retries.

This file imports only the standard library and ``airflow.sdk``: copy it into the DAG folder as it is.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Connection, Variable, task
from airflow.sdk.exceptions import AirflowFailException

DAG_ID = "hub_pathway_timer"
TIMER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,207}$")
FINAL_OUTCOMES = frozenset({"fired", "already_fired", "closed", "unknown"})
RETRYABLE_STATUS = frozenset({401, 403, 404, 408, 429})
CALL_TIMEOUT_SECONDS = 30.0


class HubNotReached(Exception):
    """The hub could not take the call now; Airflow retries the task."""


def _setting(env: str, variable: str) -> str | None:
    """An operator setting from the worker's environment or an Airflow Variable (None when neither is set)."""
    value = os.environ.get(env) or Variable.get(variable, default=None)
    return str(value) if value else None


def _connection() -> Any | None:
    """Airflow Connection ``hub_pathway``, or None when there is none."""
    try:
        return Connection.get("hub_pathway")
    except Exception:  # AirflowNotFoundException: the connection is optional
        return None


def _same_url(a: str, b: str) -> bool:
    """Whether two base URLs are the same place (scheme, host, port and path, trailing slash ignored)."""
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (from a URL) is this machine: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_hub_url(hub_url: str) -> str:
    """``hub_url`` when it is an https URL, or an http URL to a loopback host; else HubNotReached saying why."""
    parsed = urllib.parse.urlsplit(hub_url)
    host = (parsed.hostname or "").lower()
    if not host or parsed.scheme not in ("https", "http"):
        raise HubNotReached(f"the configured hub URL {hub_url!r} is not an https URL: nothing was sent")
    if parsed.scheme == "http" and not _is_loopback(host):
        raise HubNotReached(f"the configured hub URL {hub_url!r} is plain http to a host that is not loopback: "
                            "use https (nothing was sent)")  # fmt: skip
    return hub_url


def fire_timer(conf: dict[str, Any]) -> str:
    """Call the hub back for the timer in ``conf``; the hub's outcome, or an exception (see the module's docstring)."""
    timer_id = conf.get("timer_id")
    if not isinstance(timer_id, str) or not TIMER_ID.match(timer_id):
        raise AirflowFailException(f"conf.timer_id must be 1-207 characters of A-Z a-z 0-9 . _ -, got {timer_id!r}")
    connection = None
    hub_url = _setting("HUB_PATHWAY_HUB_URL", "hub_pathway_hub_url")
    token = _setting("HUB_SCHEDULER_TOKEN", "hub_scheduler_token")
    if hub_url is None or token is None:
        connection = _connection()
    if hub_url is None and connection is not None and connection.host:
        hub_url = connection.host if "://" in connection.host else f"{connection.schema or 'https'}://{connection.host}"
        if connection.port:
            hub_url = f"{hub_url}:{connection.port}"
    if token is None and connection is not None and connection.password:
        token = connection.password
    if hub_url is None:
        raise HubNotReached("no hub URL: set HUB_PATHWAY_HUB_URL, Variable hub_pathway_hub_url or the host of "
                            "Connection hub_pathway (nothing was sent)")  # fmt: skip
    hub_url = _checked_hub_url(hub_url)
    conf_url = conf.get("hub_url")
    if conf_url is not None and not (isinstance(conf_url, str) and _same_url(conf_url, hub_url)):
        raise AirflowFailException(f"conf.hub_url {conf_url!r} is not the hub this Airflow is set up for")
    if token is None:
        raise HubNotReached("no scheduler token: set HUB_SCHEDULER_TOKEN, Variable hub_scheduler_token "
                            "or the password of Connection hub_pathway")  # fmt: skip
    url = f"{hub_url.rstrip('/')}/v1/pathway/timers/{urllib.parse.quote(timer_id, safe='')}/fire"
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json",
    })  # fmt: skip
    ca_file = os.environ.get("HUB_PATHWAY_CA_FILE")
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_SECONDS, context=context) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        if error.code >= 500 or error.code in RETRYABLE_STATUS:
            raise HubNotReached(f"the hub answered {error.code} for timer {timer_id}") from None
        raise AirflowFailException(f"the hub refused timer {timer_id}: {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise HubNotReached(f"the hub at {hub_url} could not be reached: {error}") from None
    if status != 200:
        raise AirflowFailException(f"the hub answered {status} for timer {timer_id}, not 200")
    try:
        outcome = json.loads(body)["outcome"]
    except (ValueError, KeyError, TypeError):
        raise HubNotReached(f"the hub's answer for timer {timer_id} carried no outcome") from None
    if outcome == "not_yet_due":
        raise HubNotReached(f"the hub says timer {timer_id} is not due yet (this clock runs ahead of the hub's)")
    if outcome not in FINAL_OUTCOMES:
        raise HubNotReached(f"the hub answered an outcome this DAG does not know for timer {timer_id}: {outcome!r}")
    print(f"timer {timer_id}: {outcome}")
    return str(outcome)


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=int(os.environ.get("HUB_PATHWAY_MAX_ACTIVE_RUNS", "32")),
    tags=["partner-hub"],
    doc_md=__doc__,
    default_args={
        "retries": int(os.environ.get("HUB_PATHWAY_TASK_RETRIES", "12")),
        "retry_delay": timedelta(seconds=float(os.environ.get("HUB_PATHWAY_RETRY_DELAY_SECONDS", "60"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
    },
):

    @task(task_id="fire")
    def fire(**context: Any) -> str:
        """Call the hub back for this run's timer."""
        return fire_timer(dict(context["dag_run"].conf or {}))

    fire()
