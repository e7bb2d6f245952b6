"""What the dashboard's browser tests share: logging in, keyboard-only moves, axe-core, screenshots."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS_ENV = "HUB_UI_SCREENSHOTS"
"""Set to a folder (``make screenshots`` sets ``docs/dashboard``) to have the tests photograph each screen there;
unset, no screenshot is taken, so ``make test`` leaves the docs' pictures as they are."""
PASSWORDS = {"alice": "alice operates the hub", "vera": "vera only views things", "nora": "nora navigates people",
             "lock": "lock gets locked out"}  # fmt: skip
ROLES = {"alice": "operator", "vera": "viewer", "nora": "navigator", "lock": "viewer"}
NHS_NUMBER = "9434765919"  # the example messages' person (examples/*.json)
NHS_NUMBER_FORMS = (NHS_NUMBER, "943 476 5919", "943-476-5919")


def login(page: Any, base: str, name: str, password: str) -> None:
    """Log in with the form (by keyboard: type, then Enter submits)."""
    page.goto(f"{base}/ui/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/ui/")


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until the (first) element ``selector`` names has the focus; fail if it is never reached."""
    target = page.locator(selector).first
    target.wait_for()
    for _ in range(presses):
        if target.evaluate("(el) => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} cannot be reached with the Tab key")


def press(page: Any, selector: str, key: str = "Enter") -> None:
    """Reach ``selector`` with Tab alone, then press ``key`` on it."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab_to(page, selector)
    page.keyboard.press(key)


def submit(page: Any, selector: str, url: str) -> None:
    """Press the button ``selector`` (by keyboard) and wait until the page it leads to, at ``url`` (a glob), has
    loaded. Waiting for the URL alone is not enough when the page is already at one that matches (a second
    ``?done=`` after a first): the check would pass before the form was even sent."""
    with page.expect_navigation(url=url):
        press(page, selector)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page (WCAG 2.2 AA rules and best practices)."""
    if not AXE.is_file():
        reason = f"{AXE} is missing: 'make test' installs it (npm ci)"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"]]}
            for v in found if v["impact"] in ("serious", "critical")]  # fmt: skip


def check_accessible(page: Any) -> None:
    """No serious or critical axe-core violation on the page."""
    bad = axe_violations(page)
    assert not bad, json.dumps(bad, indent=2)


def shots_folder() -> Path | None:
    """Where screenshots go (``$HUB_UI_SCREENSHOTS``, relative to the checkout), or None: none are taken."""
    folder = os.environ.get(SHOTS_ENV, "").strip()
    if not folder:
        return None
    path = Path(folder)
    return path if path.is_absolute() else ROOT / path


def shoot(page: Any, name: str) -> None:
    """A screenshot of the whole page as NAME.png in ``$HUB_UI_SCREENSHOTS`` (``make screenshots``: docs/dashboard,
    for docs/dashboard.md); nothing when the variable is unset."""
    folder = shots_folder()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def holds_nhs_number(text: str) -> bool:
    """Whether ``text`` holds the test person's NHS number in any usual form."""
    return any(form in text for form in NHS_NUMBER_FORMS) or bool(re.search(r"943\D?476\D?5919", text))
