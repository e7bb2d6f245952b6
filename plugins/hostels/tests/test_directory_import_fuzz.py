"""The Open Referral UK import under generated files: a damaged feed document is imported or refused, never a crash.

``import_file`` reads a saved feed document (a list page, one service or an array of services). Generated from
the published examples and synthetic services (``hub.testing.fuzzing``: cuts, stray brackets and quotes,
repeated slices up to 256 KiB), each file is imported (invalid services counted and named in the report) or
refused with ``FeedError``, the directory's own error, within the fuzzing bounds of time and Python memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostels_feed import oruk_fixtures, synthetic_service
from hub_hostels.directory.database import DirectoryDatabase, open_directory
from hub_hostels.directory.importer import import_file
from hub_hostels.directory.records import FeedError

from hub.testing.fuzzing import fuzz


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[DirectoryDatabase]:
    database = open_directory(f"sqlite:///{tmp_path / 'directory.db'}")
    yield database
    database.close()


def seeds() -> list[bytes]:
    published = oruk_fixtures()
    found = [(published / folder / name).read_bytes()
             for folder in ("uk-profile-3.0", "hsds-3.1") for name in ("service_full.json", "service_list.json")
             if (published / folder / name).exists()]  # fmt: skip
    services = [synthetic_service(i, available=i) for i in range(3)]
    listing = {"total_items": 3, "total_pages": 1, "page_number": 1, "size": 3, "first_page": True,
               "last_page": True, "empty": False, "contents": services}  # fmt: skip
    return [*found, json.dumps(listing).encode(), json.dumps([synthetic_service(7)]).encode()]


def test_a_damaged_feed_document_is_imported_or_refused_with_feed_error(
    directory: DirectoryDatabase, tmp_path: Path
) -> None:
    saved = tmp_path / "feed.json"

    def read(data: bytes) -> None:
        saved.write_bytes(data)
        report = import_file(directory, saved, feed="file:fuzz")
        assert report.listed >= report.invalid

    found = seeds()
    read(found[-2])
    assert directory.count()[0] == 3  # the seeds import: damage is what the fuzzer adds
    fuzz(read, found, allowed=(FeedError,), examples=100)


def test_a_feed_document_nested_too_deep_is_refused_saying_so(directory: DirectoryDatabase, tmp_path: Path) -> None:
    saved = tmp_path / "deep.json"
    for depth in (65, 5000):  # past the limit, and past Python's own recursion limit
        saved.write_bytes(b'[{"id":' * depth + b"1" + b"}]" * depth)
        with pytest.raises(FeedError, match="nested deeper than 64 arrays and objects"):
            import_file(directory, saved)
    saved.write_bytes(json.dumps([synthetic_service(1) | {"extra": [[[[[[{"a": [1]}]]]]]]}]).encode())
    assert import_file(directory, saved).added == 1
