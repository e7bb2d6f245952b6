"""A throwaway virtualenv for installing packages with pip as an integrator would, without downloading the hub.

It has no pip of its own and reaches the running interpreter's environment (pip, pytest, the hub and its plugins)
through a ``.pth`` file, so ``python -m pip install -e ./NAME`` there needs nothing but pip's build backend.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def hub_venv(tmp: Path) -> Path:
    """Make ``tmp/venv`` and return its python; the hub's environment is on its path, its own site-packages first."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True, timeout=60)
    python = tmp / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # site.addsitedir, not a bare path: the hub environment's own .pth files (editable installs' finders) must run
    # too, or an editable plugin with a pytest11 entry point is listed but cannot be imported
    hub_site = sysconfig.get_paths()["purelib"]
    (Path(site) / "hub-environment.pth").write_text(f"import site; site.addsitedir({hub_site!r})\n")
    return python


def pip_install_editable(python: Path, *folders: Path) -> subprocess.CompletedProcess[str]:
    """``pip install -e`` each folder into the throwaway environment of ``python`` (no dependencies fetched)."""
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         *(arg for folder in folders for arg in ("-e", str(folder)))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
