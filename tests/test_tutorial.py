"""docs/integrators.md's fifteen-minute tutorial, steps 1 to 4 as written: the scaffold command of step 1, the
plugin and tests of step 3 copied from the guide's code blocks, installed with pip, pass their tests; step 4's
commands and partner entry make a configuration ``hub config check`` passes, and a misspelt adapter gives the
guide's lines.

The guide's files are its ``python`` blocks whose first line is ``# hope-crm/...`` (the path they replace).
Step 5 runs too: ``hub serve`` (on a free port rather than 8080), ``hub send`` of the example Referral readdressed
to Hope, and Hope's inbox holding the form the adapter wrote.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import requests
from click.testing import CliRunner
from throwaway_venv import hub_venv, pip_install_editable

from hub.cli import main
from hub.testing import free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent


def _tutorial() -> str:
    guide = (ROOT / "docs" / "integrators.md").read_text()
    start = guide.index("\n## Fifteen minutes: your first plugin\n")
    return guide[start : guide.index("\n## ", start + 1)]


def test_the_tutorials_plugin_and_tests_pass_as_written(tmp_path: Path) -> None:
    tutorial = _tutorial()
    step1 = tutorial[tutorial.index("**1. Scaffold") : tutorial.index("**2. Install")]
    (command,) = re.findall(r"```\n(hub adapter new [^\n]+)\n```", step1)
    result = CliRunner().invoke(main, [*shlex.split(command)[1:], "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = re.findall(r"```python\n# (hope-crm/[^\n]+)\n(.*?)```", tutorial, re.DOTALL)
    assert sorted(path for path, _ in files) == ["hope-crm/hub_hope_crm/plugin.py", "hope-crm/tests/test_hope_crm.py"]
    for path, text in files:
        assert (tmp_path / path).is_file(), f"the guide replaces {path}, which the scaffold does not write"
        (tmp_path / path).write_text(text)
    python = hub_venv(tmp_path)
    install = pip_install_editable(python, tmp_path / "hope-crm")
    assert install.returncode == 0, install.stdout + install.stderr
    # the plugins the tutorial needs (Referral and the charity kind; the sending trust's kind and ods_code)
    run = subprocess.run([str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider", "hope-crm/tests"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                              "HUB_LOAD_PLUGINS": "hope-crm,hostels,nhs"})  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and "SKIPPED" not in run.stdout, run.stdout[-3000:]
    assert f"Run `pytest hope-crm/tests` again: {passed.group(1)} tests" in tutorial, "the guide's count is wrong"


def test_the_tutorials_configuration_checks_and_a_referral_reaches_hope_as_written(tmp_path: Path) -> None:
    tutorial = _tutorial()
    step4 = tutorial[tutorial.index("**4. Configure") : tutorial.index("**5. See")]
    blocks = re.findall(r"```\n(.*?)```", step4, re.DOTALL)
    script, expected = blocks[0].splitlines(), blocks[1].splitlines()
    passphrase = re.search(r"HUB_KEY_PASSPHRASE='([^']+)'", script[0])
    assert passphrase, script[0]
    entry = "\n".join(script[script.index("cat >> deploy/partners.toml <<'TOML'") + 1 : script.index("TOML")])
    files = dict(re.findall(r"```python\n# (hope-crm/[^\n]+)\n(.*?)```", tutorial, re.DOTALL))
    CliRunner().invoke(main, ["adapter", "new", "hope-crm", "--dir", str(tmp_path)])
    (tmp_path / "hope-crm/hub_hope_crm/plugin.py").write_text(files["hope-crm/hub_hope_crm/plugin.py"])
    python = hub_venv(tmp_path)
    assert pip_install_editable(python, tmp_path / "hope-crm").returncode == 0
    env = {**os.environ, "HUB_KEY_PASSPHRASE": passphrase.group(1), "HUB_DISABLE_PLUGINS": "charity-crm"}
    env.pop("HUB_LOAD_PLUGINS", None)

    def hub(line: str) -> subprocess.CompletedProcess[str]:
        command = shlex.split(line.split("#")[0])
        assert command[0] == "hub", line
        return subprocess.run([str(python), "-m", "hub", *command[1:]], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env=env)  # fmt: skip

    assert script[1] == "hub init --config deploy" and hub(script[1]).returncode == 0
    token = hub(script[2])
    digest = re.search(r'token_sha256 = "(sha256:[0-9a-f]{64})"', token.stdout)
    assert token.returncode == 0 and digest, token.stdout + token.stderr
    partners = tmp_path / "deploy" / "partners.toml"
    partners.write_text(partners.read_text() + entry.replace("sha256:...", digest.group(1)) + "\n")
    assert script[-1] == "hub config check --config deploy"
    check = hub(script[-1])
    assert check.returncode == 0 and "consistent" in check.stdout, check.stdout + check.stderr
    partners.write_text(partners.read_text().replace('adapter = "hope-crm"', 'adapter = "hope-cmr"'))
    check = hub(script[-1])
    assert check.returncode == 1 and check.stderr.splitlines() == expected, check.stderr
    partners.write_text(partners.read_text().replace('adapter = "hope-cmr"', 'adapter = "hope-crm"'))
    _step5(tmp_path, hub, env, python, token.stdout)


def _step5(tmp_path: Path, hub: Callable[[str], subprocess.CompletedProcess[str]], env: dict[str, str],
           python: Path, token_output: str) -> None:  # fmt: skip
    """Serve, send the example Referral readdressed to Hope as the guide says, and collect it from Hope's inbox."""
    tutorial = _tutorial()
    script = re.findall(r"```\n(.*?)```", tutorial[tutorial.index("**5. See") :], re.DOTALL)[0].splitlines()
    assert script[0] == "hub serve --config deploy &"
    referral = json.loads((ROOT / "examples" / "referral.json").read_text())
    referral["payload"]["service_id"] = "hope-charity"
    referral["recipient"] = {"org_id": "hope-charity"}
    (tmp_path / "referral.json").write_text(json.dumps(referral))
    port = free_port()
    server = subprocess.Popen([str(python), "-m", "hub", "serve", "--config", "deploy", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _answers(f"{url}/readyz"), timeout=60), "hub serve did not become ready"
        sent = hub(script[2])
        assert sent.returncode == 0 and "accepted as" in sent.stdout, sent.stdout + sent.stderr
        token = re.search(r"(hub_[A-Za-z0-9_-]+)", token_output)
        assert token and "/v1/inbox" in script[-1]
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        items: list[dict[str, Any]] = []

        def collected() -> bool:
            items[:] = requests.get(f"{url}/v1/inbox", headers=headers, timeout=5).json()["items"]
            return bool(items)

        assert wait_until(collected, timeout=30), "nothing reached Hope's inbox"
        (item,) = items
        assert item["content_type"] == "application/x-www-form-urlencoded" and item["type"] == "Referral"
        form = dict(parse_qsl(item["body"]))
        assert form == {"reference": referral["message_id"], "first_name": "Alex", "surname": "Example",
                        "reason": referral["payload"]["reason"]}  # fmt: skip
    finally:
        stop_process(server)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
