"""``hub geo import``: the ONS Postcode Directory streamed into the lookup the Duty to Refer uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hub_council.postcodes import PostcodeDirectory

ROWS = 50_000


def synthetic_postcode(n: int) -> str:
    """The n-th of many distinct, well-formed (not real) postcodes: AA1 0AA, AA1 0AB, ..."""
    inward, rest = n % 6760, n // 6760
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    area = letters[rest // 9 // 26 % 26] + letters[rest // 9 % 26]
    return f"{area}{rest % 9 + 1} {inward // 676}{letters[inward // 26 % 26]}{letters[inward % 26]}"


def write_onspd(path: Path, rows: int) -> None:
    """A CSV shaped like the ONSPD: many columns, pcds and oslaua among them, some terminated rows without oslaua."""
    with path.open("w") as out:
        out.write("pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,ctry\n")
        for n in range(rows):
            postcode = synthetic_postcode(n)
            authority = "" if n % 1000 == 999 else f"E0{6 + n % 4}{n % 1000:06d}"
            out.write(f"{postcode},{postcode},{postcode},199801,,E99999999,,{authority},E05000001,E92000001\n")


def test_the_import_command_loads_a_large_file_and_the_lookup_finds_its_postcodes(tmp_path: Path) -> None:
    source, target = tmp_path / "ONSPD.csv", tmp_path / "var" / "geo.db"
    write_onspd(source, ROWS)
    result = subprocess.run([sys.executable, "-m", "hub", "geo", "import", str(source), "--into", str(target)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"from {ROWS} rows ({ROWS // 1000} skipped)" in result.stdout
    assert "Importing ONSPD.csv" in result.stderr  # the progress bar
    directory = PostcodeDirectory()
    assert directory.lookup("aa1 0aa", geo_db=target) == "E06000000"
    assert directory.lookup(synthetic_postcode(ROWS - 2), geo_db=target) == f"E0{6 + (ROWS - 2) % 4}000998"
    assert directory.lookup(synthetic_postcode(ROWS - 1), geo_db=target, table=tmp_path / "none.csv") is None
    assert directory.lookup("ZZ9 9ZZ", geo_db=target, table=tmp_path / "none.csv") is None
    directory.close()


def test_a_reimport_replaces_the_directory_and_a_running_lookup_sees_it(tmp_path: Path) -> None:
    from hub_council.geo_import import import_onspd

    source, target = tmp_path / "a.csv", tmp_path / "geo.db"
    source.write_text("pcds,oslaua\nAB1 2CD,E06000001\n")
    import_onspd(source, target)
    directory = PostcodeDirectory()
    assert directory.lookup("AB1 2CD", geo_db=target) == "E06000001"
    source.write_text("pcds,oslaua\nAB1 2CD,E07000002\n")
    import_onspd(source, target)
    assert directory.lookup("AB1 2CD", geo_db=target) == "E07000002"
    directory.close()


def test_a_file_without_the_columns_is_refused_saying_which(tmp_path: Path) -> None:
    source = tmp_path / "wrong.csv"
    source.write_text("postcode,district\nAB1 2CD,E06000001\n")
    result = subprocess.run([sys.executable, "-m", "hub", "geo", "import", str(source), "--into",
                             str(tmp_path / "geo.db")], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert "no pcds or oslaua column" in result.stderr
    assert not (tmp_path / "geo.db").exists()


def test_geo_lookup_prints_the_authority(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "hub", "geo", "lookup", "BS1 4DJ", "--into",
                             str(tmp_path / "none.db")], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "E06000023"


def test_geo_keeps_its_directory_in_the_hubs_state_directory(tmp_path: Path) -> None:
    """Without ``--into``, the command asks the hub (``CommandContext.state_dir``) where its files go."""
    from hub.testing import write_config

    config = tmp_path / "config"
    partners = [{"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}}]
    write_config(config, partners=partners, settings={"store": {"state_dir": str(tmp_path / "state")}})
    source = tmp_path / "onspd.csv"
    source.write_text("pcds,oslaua\nBS1 4DJ,E06000023\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_GEO_DB", "HUB_CONFIG")}
    result = subprocess.run([sys.executable, "-m", "hub", "geo", "import", str(source), "--config", str(config)],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "geo.db").exists()

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hub.toml").write_text("[store]\nstate_dir = 3\n")
    result = subprocess.run([sys.executable, "-m", "hub", "geo", "import", str(source), "--config", str(broken)],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("hub: "), result.stderr
