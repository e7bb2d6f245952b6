"""Every adapter and transport the hub ships (hub.defaults and the built-in plugins) runs the conformance suite
in `make test`: a class of ``hub.testing.conformance`` naming it, in a test folder `make test` collects. An adapter
or transport another change adds fails here until its plugin's tests run the suite on it."""

from __future__ import annotations

import ast
from pathlib import Path

from hub.plugins import load_plugins

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = {"partner-hub", "hub-plugin-nhs", "hub-plugin-council", "hub-plugin-hostels", "hub-plugin-airflow"}
SUITES = {"AdapterConformance": "adapter", "DeliveryConformance": "adapter", "TransportConformance": "transport"}


def _conformance_runs() -> set[str]:
    """``adapter:NAME`` and ``transport:NAME`` for each conformance class of the test folders (None: the default)."""
    found = set()
    for path in [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/*/tests/**/test_*.py"),
                 *ROOT.glob("examples/*/tests/**/test_*.py")]:  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)} & set(SUITES)
            for base in bases:
                for item in node.body:
                    target: ast.expr | None = item.target if isinstance(item, ast.AnnAssign) else None
                    if isinstance(item, ast.Assign) and len(item.targets) == 1:
                        target = item.targets[0]
                    value = getattr(item, "value", None)
                    if isinstance(target, ast.Name) and target.id == f"{SUITES[base]}_name" and value is not None:
                        name = ast.literal_eval(value)
                        found.add(f"{SUITES[base]}:{name or 'canonical-json'}")
    return found


def test_every_shipped_adapter_and_transport_runs_the_conformance_suite() -> None:
    plugins = load_plugins()
    shipped = {entry for info in plugins.infos if info.distribution in BUILT_IN for entry in info.registered
               if entry.startswith(("adapter:", "transport:"))}  # fmt: skip
    assert {"adapter:canonical-json", "transport:http", "adapter:hl7v2", "transport:smtp"} <= shipped, shipped
    missing = shipped - _conformance_runs()
    assert not missing, f"no conformance class runs on {sorted(missing)}"
