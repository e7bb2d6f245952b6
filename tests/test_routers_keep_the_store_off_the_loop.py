"""The hub's routers and the dashboard's pages never call the (blocking) store on the event loop: a store call
in an ``async def`` route is handed to a thread (``asyncio.to_thread``, directly or inside a lambda or function it
runs) unless it is one of the store's ``*_async`` methods. A call made on the loop would stall every other request
while the database answers."""

from __future__ import annotations

import ast
from pathlib import Path

import hub.api.routers
import hub.ui

ROUTERS = Path(hub.api.routers.__file__).parent
DASHBOARD = Path(hub.ui.__file__).parent


def blocking_store_calls(source: str) -> list[str]:
    """``name:line`` of each ``<...>.store.<method>(...)`` call made directly in an ``async def``'s body (calls inside
    a nested lambda or function, which only a thread runs, are not counted; ``*_async`` methods are allowed)."""
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                owner = child.func.value
                if (isinstance(owner, ast.Attribute) and owner.attr == "store"
                        and not child.func.attr.endswith("_async")):  # fmt: skip
                    found.append(f"{function}:{child.lineno}")
            visit(child, function)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AsyncFunctionDef):
            visit(node, node.name)
    return found


def test_the_check_finds_a_store_call_on_the_loop() -> None:
    on_loop = "async def f(hub):\n    return any(hub.store.may_read(c, r) for r in x)\n"
    off_loop = "async def f(hub):\n    return await asyncio.to_thread(lambda: hub.store.may_read(c, r))\n"
    allowed = "async def f(hub):\n    await hub.store.audit_async([])\n"
    assert blocking_store_calls(on_loop) == ["f:2"]
    assert blocking_store_calls(off_loop) == blocking_store_calls(allowed) == []


def test_no_router_calls_the_store_on_the_event_loop() -> None:
    found = {path.name: calls for path in sorted([*ROUTERS.glob("*.py"), *DASHBOARD.glob("*.py")])
             if (calls := blocking_store_calls(path.read_text()))}  # fmt: skip
    assert found == {}
