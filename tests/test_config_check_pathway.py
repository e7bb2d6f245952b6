"""``hub config check`` on the care pathway (pathways.toml, hub.toml's [pathway]) and plugins' own checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub import ConfigCheck, ConfigCheckContext, ConfigProblem, did_you_mean, hookimpl
from hub.cli.checks import run_checks
from hub.shipped import copy_example_config

ENV = {**os.environ, "HUB_KEY_PASSPHRASE": "a passphrase for the tests"}
DIGEST = "sha256:" + "ab" * 32


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=120, env=ENV)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    copy_example_config(directory)
    return directory


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_a_good_pathway_section_and_the_example_pathways_are_consistent(config: Path) -> None:
    append(config / "hub.toml", f'\n[pathway]\nscheduler = "embedded"\ntime_scale = 1\n\n'
           f'[[pathway.scheduler_identities]]\nname = "airflow"\ntoken_sha256 = "{DIGEST}"\n')  # fmt: skip
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "consistent" in result.stdout and result.stderr == ""


def test_every_pathway_problem_is_listed_with_file_entry_and_suggestion(config: Path) -> None:
    pathways = config / "pathways.toml"
    edit(pathways, 'timezone = "Europe/London"', 'timezone = "Europe/Lndon"')
    edit(pathways, 'start = { type = "Referral", on = "delivered" }', 'start = { type = "Referal", on = "delivered" }')
    edit(pathways, 'due = { after = "48h", from = "event" }', 'due = { after = "48hours", from = "event" }')
    edit(pathways, 'closed_by = [{ type = "Acknowledgement"', 'closed_by = [{ type = "Acknowledgment"')
    edit(pathways, 'responsible = "sender"', 'responsible = "trust-elt"')
    edit(pathways, 'on_breach = { notify = ["responsible"] }', 'on_breach = { notify = ["responsible", "stepsluton"] }')
    edit(pathways, 'remind_before = "7d"', 'remind_before = "7days"\nnmae = "x"')
    edit(pathways, 'name = "check-in-6m"', 'name = "check-in-3m"')
    append(pathways, '\n[[close_pathway]]\nreason = "readmission"\ntype = "DischargeNotise"\n')
    append(
        config / "hub.toml",
        f"""
[pathway]
scheduler = "embeded"
time_scale = -1

[pathway.airflw]
url = "http://127.0.0.1:8793"

[[pathway.scheduler_identities]]
name = "Airflow!"
token_sha256 = "nothex"

[[pathway.scheduler_identities]]
name = "airflow"

[[pathway.scheduler_identities]]
name = "airflow"
token_sha256 = "{DIGEST}"
""",
    )
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    expected = [
        "hub.toml: pathway.time_scale: must be greater than 0, got -1.0",
        "hub.toml: pathway.scheduler: 'embeded' is not a scheduler a loaded plugin registers (did you mean "
        "'embedded'?)",
        "hub.toml: pathway.airflw: a settings table of a scheduler no loaded plugin registers",
        "hub.toml: pathway.scheduler_identities[0].name: give a name of 1-64 lower-case letters",
        "hub.toml: pathway.scheduler_identities[0].token_sha256: 'nothex' is not a token digest",
        "hub.toml: pathway.scheduler_identities[1].token_sha256: a scheduler identity needs a token digest",
        "hub.toml: pathway.scheduler_identities[2].name: 'airflow' is already the name of scheduler_identities[1]",
        "pathways.toml: timezone: 'Europe/Lndon' is not a time zone (e.g. 'Europe/London') (did you mean "
        "'Europe/London'?)",
        "pathways.toml: milestone[0] (assessment).start.type: 'Referal' is not a registered message type",
        "pathways.toml: milestone[0] (assessment).due.after: '48hours' is not an offset",
        "pathways.toml: milestone[0] (assessment).closed_by[0].type: 'Acknowledgment' is not a registered",
        "pathways.toml: milestone[1] (follow-up-72h).responsible: no partner has id 'trust-elt' in partners.toml "
        "(did you mean 'trust-elft'?)",
        "pathways.toml: milestone[1] (follow-up-72h).on_breach.notify: 'stepsluton' is neither",
        "pathways.toml: milestone[2] (ips-employer-contact).remind_before: '7days' is not an offset",
        "pathways.toml: milestone[2] (ips-employer-contact).nmae: unknown setting",
        "pathways.toml: milestone[4] (check-in-3m).name: 'check-in-3m' is already the name of milestone[3]",
        "pathways.toml: close_pathway[2].type: 'DischargeNotise' is not a registered message type",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, result.stderr)
    suggestions = {
        "milestone[0] (assessment).start.type": "(did you mean 'Referral'?)",
        "milestone[0] (assessment).due.after": "(did you mean '48h'?)",
        "milestone[0] (assessment).closed_by[0].type": "(did you mean 'Acknowledgement'?)",
        "milestone[1] (follow-up-72h).on_breach.notify": "(did you mean 'steps-luton'?)",
        "milestone[2] (ips-employer-contact).remind_before": "(did you mean '7d'?)",
        "milestone[2] (ips-employer-contact).nmae": "(did you mean 'name'?)",
        "close_pathway[2].type": "(did you mean 'DischargeNotice'?)",
        "pathway.airflw": "(did you mean 'airflow'?)",
    }
    for entry, suggestion in suggestions.items():
        line = next(line for line in lines if f": {entry}: " in line)
        assert line.endswith(suggestion), line
    assert lines[-1].endswith(f": {len(expected)} problems"), result.stderr


def test_a_milestone_naming_a_partner_whose_entry_is_wrong_says_so(config: Path) -> None:
    edit(config / "partners.toml", 'kind = "nhs_trust"', 'kind = "nhs_trust"\nkind_of = "x"')
    edit(config / "pathways.toml", 'responsible = "sender"', 'responsible = "trust-elft"')
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert ("pathways.toml: milestone[1] (follow-up-72h).responsible: names partner 'trust-elft', whose entry in "
            "partners.toml has a problem (listed above) (fix that entry first)") in result.stderr  # fmt: skip


def test_the_pathway_checker_follows_the_hub_files_and_the_plugins_checks_come_last() -> None:
    from hub.cli.checks import registered_checks

    order = [c.file for c in registered_checks()]
    assert order.index("pathways.toml") > order.index("agreements")
    assert order[-1] == "plugins' checks"


# -- checks a plugin registers ------------------------------------------------------------------------------------


class _Plugin:
    """A plugin whose check reads its own [plugins.demo] table (and one whose check has a bug)."""

    def __init__(self, crash: bool = False) -> None:
        self.crash = crash
        self.seen: list[ConfigCheckContext] = []

    @hookimpl
    def hub_register_config_checks(self, register: Callable[[ConfigCheck], None]) -> None:
        register(ConfigCheck("demo-colours", self.check))

    def check(self, context: ConfigCheckContext) -> Iterator[ConfigProblem]:
        self.seen.append(context)
        if self.crash:
            raise RuntimeError("a bug")
        for index, colour in enumerate(context.plugin_table("demo").get("colours", [])):
            if colour not in ("red", "green"):
                yield ConfigProblem("hub.toml", f"plugins.demo.colours[{index}]", f"{colour!r} is not a colour",
                                    did_you_mean(colour, ("red", "green"), "colours"))  # fmt: skip
        yield ConfigProblem("hub.toml", "plugins.demo", "a friendly note", warning=True)


def _plugins(*extra: Any) -> Any:
    from hub.plugins import load_plugins

    return load_plugins(extra_plugins=extra)


def test_a_plugins_check_gets_the_configuration_and_its_problems_are_findings(config: Path) -> None:
    append(config / "hub.toml", '\n[plugins.demo]\ncolours = ["red", "gren", "blue"]\n')
    plugin = _Plugin()
    plugins = _plugins(plugin)
    assert "demo-colours" in plugins.config_checks
    lines = [f.line() for f in run_checks(config, plugins) if f.entry.startswith("plugins.demo")]
    assert lines == [
        "hub.toml: plugins.demo.colours[1]: 'gren' is not a colour (did you mean 'green'?)",
        "hub.toml: plugins.demo.colours[2]: 'blue' is not a colour (the colours are: green, red)",
        "hub.toml: plugins.demo: warning: a friendly note",
    ]
    (context,) = plugin.seen
    assert context.config_dir == config and context.settings is not None
    assert context.partners["steps-luton"].kind == "hostel" and "hostel" in context.partner_kinds
    assert "Referral" in context.message_types and context.listener_table("mllp") is None


def test_a_plugins_check_that_raises_is_a_finding_naming_it(config: Path) -> None:
    findings = run_checks(config, _plugins(_Plugin(crash=True)))
    assert [f.line() for f in findings] == [
        "plugins' checks: demo-colours: the check 'demo-colours' failed: RuntimeError: a bug"
    ]


WARNING_PLUGIN = """
from hub import ConfigCheck, ConfigProblem, hookimpl


@hookimpl
def hub_register_config_checks(register):
    register(ConfigCheck("demo-note", lambda context: [ConfigProblem("hub.toml", "plugins.demo", "a friendly note",
                                                                     warning=True)]))
"""


def test_a_warning_alone_does_not_fail_the_check(config: Path, tmp_path: Path) -> None:
    """A plugin installed like any other (a module and its dist-info with a ``hub.adapters`` entry point, on the
    path of ``hub config check``) whose check gives only a warning: the check passes and prints it."""
    site = tmp_path / "site"
    info = site / "hub_demo_note-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "hub_demo_note.py").write_text(WARNING_PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hub-demo-note\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hub.adapters]\ndemo-note = hub_demo_note\n")
    path = os.pathsep.join(p for p in (str(site), ENV.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, "-m", "hub", "config", "check", "--config", str(config)],
                            capture_output=True, text=True, timeout=120, env={**ENV, "PYTHONPATH": path})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hub.toml: plugins.demo: warning: a friendly note" in result.stderr
    assert result.stdout.strip().endswith("loaded plugins, 1 warning"), result.stdout


def test_a_config_check_name_is_checked_like_every_registered_name() -> None:
    with pytest.raises(ValueError):
        ConfigCheck("Not A Name", lambda context: [])


def test_a_milestone_missing_its_required_parts_still_has_every_later_problem_listed(config: Path) -> None:
    (config / "pathways.toml").write_text("""
colour = "x"

[[milestone]]
name = "follow-up"
responsible = "delivered_to"
closed_by = []

[[milestone]]
name = "check-in"
start = { type = "FollowUp", on = "sent" }
due = { after = "0h", from = "not a field" }
responsible = "sender"
closed_by = [{ type = "FollowUp", extra = 1 }]
on_breach = { notify = "x" }
""")
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines()[:-1] == [
        "pathways.toml: colour: unknown setting (known: bank_holidays, close_pathway, milestone, timezone)",
        "pathways.toml: milestone[0] (follow-up).start: required",
        "pathways.toml: milestone[0] (follow-up).due: required",
        "pathways.toml: milestone[0] (follow-up).responsible: 'delivered_to' needs start.on = 'delivered'",
        "pathways.toml: milestone[0] (follow-up).closed_by: required: at least one { type = ..., when = [...] } "
        "that the responsible partner sends to meet the milestone",
        "pathways.toml: milestone[1] (check-in).start.on: 'sent' is not one of received, delivered",
        "pathways.toml: milestone[1] (check-in).due.after: must be more than nothing (only '0wd' with by = "
        "'end_of_day', the same working day, may be nothing)",
        "pathways.toml: milestone[1] (check-in).due.from: 'event' or a dotted field path such as "
        "'payload.referral_date', got 'not a field'",
        "pathways.toml: milestone[1] (check-in).closed_by[0].extra: unknown setting (known: type, when)",
        "pathways.toml: milestone[1] (check-in).on_breach.notify: expected list, got 'x'",
    ]
