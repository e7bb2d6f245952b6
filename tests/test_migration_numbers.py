"""Each store's migrations are numbered 1, 2, 3, ... with no number twice and none missing.

Migrations are applied by number: a database at version N runs those above N. Two branches that each add "the
next" migration would otherwise both take one number, and a database upgraded by either would never run the
other's; a gap would let a later merge slip a migration below what databases already have.
"""

from __future__ import annotations

import pytest

from hub.store import postgres_schema, sqlite_schema


@pytest.mark.parametrize("schema", [sqlite_schema, postgres_schema], ids=["sqlite", "postgresql"])
def test_migrations_are_numbered_one_by_one(schema) -> None:
    versions = [version for version, _ in schema.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1)), f"{schema.__name__}: {versions}"
