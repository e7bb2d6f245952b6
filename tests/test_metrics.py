"""Metrics are shared by every hub process on a machine (prometheus-client's multiprocess mode).

The exposition is read with prometheus-client's parser (``hub.testing.metrics_text``), never by matching text.
This module imports prometheus-client before any hub metric exists, as a plugin might: the hub must still record
into its metrics directory.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import prometheus_client  # noqa: F401  (imported first on purpose: see the module docstring)
import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from hub.metrics import open_metrics
from hub.testing import RunningHub, stop_process, wait_until
from hub.testing.messages import housing_request
from hub.testing.metrics_text import parse_samples, sample

ROOT = Path(__file__).resolve().parent.parent


def in_another_process(code: str, *, wait: bool = True, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Run ``code`` in a fresh interpreter with this checkout first on the path."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=environment, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    if wait:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    return process


def files_say(directory: Path) -> dict[str, float]:
    """What the directory's files hold, merged by prometheus-client alone (no hub code): ``{name{labels}: value}``."""
    out = {}
    for family in MultiProcessCollector(None, path=str(directory)).collect():
        for s in family.samples:
            out[s.name + json.dumps(s.labels, sort_keys=True)] = s.value
    return out


def test_counters_stay_exact_past_a_million(tmp_path: Path) -> None:
    metrics = open_metrics(tmp_path / "metrics")
    for _ in range(3):
        metrics.inc("hub_messages_accepted_total", 4_115_226, type="Referral")
    metrics.inc("hub_messages_accepted_total", 1, type="Referral")
    metrics.inc("hub_requests_refused_total", 1_000_000, reason="too_large")
    metrics.gauges.append(("store", lambda: {'hub_deliveries{state="pending"}': 98_765_432, "hub_ratio": 0.125}))
    before = parse_samples(metrics.render().decode())
    metrics.inc("hub_requests_refused_total", reason="too_large")
    after = parse_samples(metrics.render().decode())
    assert sample(before, "hub_messages_accepted_total", type="Referral") == 12_345_679
    assert sample(before, "hub_deliveries", state="pending") == 98_765_432
    assert sample(before, "hub_ratio") == 0.125
    assert (sample(before, "hub_requests_refused_total", reason="too_large"),
            sample(after, "hub_requests_refused_total", reason="too_large")) == (1_000_000, 1_000_001)  # fmt: skip


def test_values_live_in_the_hub_directory_even_when_prometheus_client_was_imported_first(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    in_another_process(f"""
        import prometheus_client                     # a plugin imported it first, before any hub code
        from hub.metrics import open_metrics
        metrics = open_metrics({str(directory)!r})
        metrics.inc("hub_messages_accepted_total", 3, type="Referral")
        metrics.observe("hub_submit_to_delivery_seconds", 0.004, partner="council-a")
    """, env={"PROMETHEUS_MULTIPROC_DIR": str(elsewhere)})  # fmt: skip
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    held = files_say(directory)
    assert held['hub_messages_accepted_total{"type": "Referral"}'] == 3
    assert held['hub_submit_to_delivery_seconds_count{"partner": "council-a"}'] == 1
    assert held['hub_submit_to_delivery_seconds_bucket{"le": "0.005", "partner": "council-a"}'] == 1
    assert list(elsewhere.iterdir()) == []


def test_render_adds_up_every_process_and_reads_gauges_once(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    metrics = open_metrics(directory)
    metrics.inc("hub_deliveries_total", 2, partner="council-a", result="delivered")
    metrics.set("hub_processes", 1, role="serve")
    for n in (5, 7):
        in_another_process(f"""
            from hub.metrics import open_metrics
            metrics = open_metrics({str(directory)!r})
            metrics.inc("hub_deliveries_total", {n}, partner="council-a", result="delivered")
            metrics.observe("hub_submit_to_delivery_seconds", 0.5, partner="council-a")
            metrics.set("hub_processes", 1, role="worker")
            metrics.gauges.append(("store", lambda: {{"hub_messages_stored": 1000}}))
            metrics.close()
        """)  # fmt: skip
    metrics.gauges.append(("store", lambda: {"hub_messages_stored": 40}))
    found = parse_samples(metrics.render().decode())
    assert sample(found, "hub_deliveries_total", partner="council-a", result="delivered") == 14
    assert sample(found, "hub_submit_to_delivery_seconds_count", partner="council-a") == 2
    assert sample(found, "hub_submit_to_delivery_seconds_bucket", partner="council-a", le="0.5") == 2
    assert sample(found, "hub_messages_stored") == 40  # this process's reading, not summed with anyone's
    assert sample(found, "hub_processes", role="serve") == 1
    assert sample(found, "hub_processes", role="worker") is None  # both stopped cleanly: their live gauges went


def test_a_killed_process_leaves_its_counts_but_not_its_live_gauge(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    metrics = open_metrics(directory)
    worker = in_another_process(f"""
        import sys, time
        from hub.metrics import open_metrics
        metrics = open_metrics({str(directory)!r})
        metrics.set("hub_processes", 1, role="worker")
        metrics.inc("hub_deliveries_total", 9, partner="council-a", result="delivered")
        print("ready", flush=True)
        time.sleep(60)
    """, wait=False)  # fmt: skip
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        assert sample(parse_samples(metrics.render().decode()), "hub_processes", role="worker") == 1
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        stop_process(worker)
    found = parse_samples(metrics.render().decode())
    assert sample(found, "hub_processes", role="worker") is None
    assert sample(found, "hub_deliveries_total", partner="council-a", result="delivered") == 9


def test_a_gauge_with_a_bad_sample_name_is_left_out_and_the_others_stay(tmp_path: Path, caplog) -> None:
    metrics = open_metrics(tmp_path / "metrics")
    metrics.gauges.append(("broken", lambda: {"hub broken{": 1}))

    def raises() -> dict[str, float]:
        raise ZeroDivisionError("a plugin's bug")

    metrics.gauges.append(("raises", raises))
    metrics.gauges.append(("store", lambda: {'hub_deliveries{state="dead"}': 2}))
    found = parse_samples(metrics.render().decode())
    assert sample(found, "hub_deliveries", state="dead") == 2
    assert "gauge broken failed" in caplog.text and "gauge raises failed" in caplog.text


def test_a_metric_must_be_declared_and_labelled_as_declared(tmp_path: Path) -> None:
    metrics = open_metrics(tmp_path / "metrics")
    with pytest.raises(KeyError, match="hub_made_up_total"):
        metrics.inc("hub_made_up_total")
    with pytest.raises(ValueError):
        metrics.inc("hub_deliveries_total", partner="council-a")


def test_a_second_hub_directory_in_one_process_takes_over_without_mixing_counts(tmp_path: Path) -> None:
    first = open_metrics(tmp_path / "first")
    open_metrics(tmp_path / "first").inc("hub_messages_accepted_total", type="Referral")  # a hub on the same config
    first.inc("hub_messages_accepted_total", type="Referral")
    second = open_metrics(tmp_path / "second")
    first.inc("hub_messages_accepted_total", type="Referral")  # a label set it had: still its own file
    first.inc("hub_messages_accepted_total", type="Appointment")  # a new one: not into the second hub's files
    second.inc("hub_messages_accepted_total", type="Referral")
    assert files_say(tmp_path / "first") == {'hub_messages_accepted_total{"type": "Referral"}': 3}
    assert files_say(tmp_path / "second") == {'hub_messages_accepted_total{"type": "Referral"}': 1}


def test_serve_shows_what_a_separate_worker_process_delivered(make_world) -> None:
    """The acceptance test of shared metrics: `hub serve --no-worker` counts the deliveries a `hub worker` made."""
    world = make_world()
    world.hub.stop()
    world.hub = RunningHub(world.config_dir, port=world.hub.port, extra_args=["--no-worker"]).start()
    sent = 5
    for _ in range(sent):
        assert world.send("trust-a", housing_request()).status_code == 202
    log = (world.config_dir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def scrape() -> dict:
        response = world.as_("ops").get(f"{world.url}/metrics", timeout=5)
        assert response.status_code == 200
        return parse_samples(response.text)

    delivered = {"partner": "council-luton", "result": "delivered"}
    try:
        assert world.sims["council-luton"].wait_for(lambda s: len(s.messages("HousingRequest")) == sent)
        assert wait_until(lambda: sample(scrape(), "hub_deliveries_total", **delivered) == sent)
        found = scrape()
        assert sample(found, "hub_messages_accepted_total", type="HousingRequest") == sent
        assert sample(found, "hub_submit_to_delivery_seconds_count", partner="council-luton") == sent
        assert sample(found, "hub_deliveries", state="delivered") == sent  # read from the store once, not per process
        assert sample(found, "hub_processes", role="serve") == 1
        assert sample(found, "hub_processes", role="worker") == 1
    finally:
        stop_process(worker)
        log.close()
    found = scrape()
    assert sample(found, "hub_processes", role="worker") is None  # it stopped cleanly
    assert sample(found, "hub_deliveries_total", **delivered) == sent  # its deliveries still count
    assert requests.get(f"{world.url}/metrics", timeout=5).status_code == 401


def _forked_child(directory: str) -> None:
    from hub.metrics import open_metrics

    open_metrics(directory).inc("hub_messages_accepted_total", 4, type="Referral")


def test_a_forked_process_records_into_files_of_its_own(tmp_path: Path) -> None:
    import multiprocessing

    directory = tmp_path / "metrics"
    metrics = open_metrics(directory)
    metrics.inc("hub_messages_accepted_total", 3, type="Referral")
    child = multiprocessing.get_context("fork").Process(target=_forked_child, args=(str(directory),))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    metrics.inc("hub_messages_accepted_total", 1, type="Referral")
    expected = {f"counter_{os.getpid()}.db", f"counter_{child.pid}.db"}
    assert {p.name for p in directory.iterdir()} == expected
    assert sample(parse_samples(metrics.render().decode()), "hub_messages_accepted_total", type="Referral") == 8


def test_the_metrics_directory_is_a_setting_under_the_state_directory_by_default(tmp_path: Path, monkeypatch) -> None:
    from hub.config import load_settings

    monkeypatch.delenv("HUB_DB", raising=False)
    monkeypatch.delenv("HUB_METRICS_DIR", raising=False)
    config = tmp_path / "config"
    config.mkdir()
    (config / "hub.toml").write_text('[store]\nstate_dir = "../state"\n')
    assert load_settings(config).metrics_dir == (tmp_path / "state" / "metrics").resolve()
    (config / "hub.toml").write_text('[store]\nstate_dir = "../state"\n[metrics]\ndir = "../m"\n')
    assert load_settings(config).metrics_dir == (tmp_path / "m").resolve()
    monkeypatch.setenv("HUB_METRICS_DIR", str(tmp_path / "machine-b"))
    assert load_settings(config).metrics_dir == (tmp_path / "machine-b").resolve()
    (config / "hub.toml").write_text("[metrics]\ndirectory = 'm'\n")
    with pytest.raises(Exception, match=r"metrics\.directory: unknown setting"):
        load_settings(config)


def test_each_machine_shows_its_own_processes_and_the_same_store(make_world) -> None:
    """Two 'machines' (two metrics directories) on one store: serve's /metrics counts only its machine's processes."""
    world = make_world()
    world.hub.stop()
    world.hub = RunningHub(world.config_dir, port=world.hub.port, extra_args=["--no-worker"]).start()
    machine_b = world.config_dir / "machine-b-metrics"
    log = (world.config_dir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                              stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "HUB_METRICS_DIR": str(machine_b)})  # fmt: skip
    try:
        assert world.send("trust-a", housing_request()).status_code == 202
        assert world.sims["council-luton"].wait_for(lambda s: len(s.messages("HousingRequest")) == 1)
        delivered = 'hub_deliveries_total{"partner": "council-luton", "result": "delivered"}'
        assert wait_until(lambda: files_say(machine_b).get(delivered) == 1)
        found = parse_samples(world.as_("ops").get(f"{world.url}/metrics", timeout=5).text)
        assert sample(found, "hub_deliveries_total", partner="council-luton", result="delivered") is None
        assert sample(found, "hub_messages_accepted_total", type="HousingRequest") == 1
        assert wait_until(lambda: sample(parse_samples(world.as_("ops").get(f"{world.url}/metrics", timeout=5).text),
                                         "hub_deliveries", state="delivered") == 1)  # fmt: skip
        assert sample(found, "hub_processes", role="worker") is None
        assert files_say(machine_b)['hub_processes{"role": "worker"}'] == 1
    finally:
        stop_process(worker)
        log.close()


def test_a_metrics_directory_that_cannot_be_made_stops_the_hub_naming_it(tmp_path: Path) -> None:
    from hub.plugin_api.problems import ConfigError

    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match=r"metrics directory .*a-file/metrics: .*HUB_METRICS_DIR"):
        open_metrics(tmp_path / "a-file" / "metrics")
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    open_metrics(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
