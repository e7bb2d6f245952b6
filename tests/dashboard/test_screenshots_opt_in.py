"""Screenshots are taken only when asked (``HUB_UI_SCREENSHOTS``, set by ``make screenshots``): ``make test`` leaves
docs/dashboard/*.png as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard.dash_support import ROOT, SHOTS_ENV, shoot, shots_folder


class Camera:
    """Stands in for a Playwright page: records where it was asked to write a screenshot."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def screenshot(self, **options: Any) -> None:
        self.paths.append(options["path"])
        Path(options["path"]).write_bytes(b"png")


def test_no_screenshot_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHOTS_ENV, raising=False)
    camera = Camera()
    shoot(camera, "overview")
    assert camera.paths == [] and shots_folder() is None


def test_screenshots_go_to_the_folder_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SHOTS_ENV, str(tmp_path / "shots"))
    camera = Camera()
    shoot(camera, "overview")
    assert camera.paths == [str(tmp_path / "shots" / "overview.png")]
    monkeypatch.setenv(SHOTS_ENV, "docs/dashboard")
    assert shots_folder() == ROOT / "docs" / "dashboard"
