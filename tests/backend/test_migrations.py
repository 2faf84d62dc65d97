"""The schema migrations: numbered without gaps, and a fresh data directory gets all of them."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from swrlocal.db import Database

CREATE_TABLE = re.compile(r"^CREATE TABLE (\w+)", re.MULTILINE)


def migration_files() -> dict[int, str]:
    files = resources.files("swrlocal.migrations").iterdir()
    return {int(f.name[:4]): f.read_text() for f in files if f.name.endswith(".sql")}


def test_numbers_are_contiguous() -> None:
    numbers = sorted(migration_files())
    assert numbers == list(range(1, len(numbers) + 1))


def test_empty_database_migrates_to_the_last_file(tmp_path: Path) -> None:
    files = migration_files()
    db = Database.open(tmp_path / "data")
    try:
        assert db.scalar("PRAGMA user_version") == max(files)
        rows = db.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row["name"] for row in rows}
        expected = {name for sql in files.values() for name in CREATE_TABLE.findall(sql)}
        assert expected <= tables
        columns = {row["name"] for row in db.all("PRAGMA table_info(repository_blobs)")}
        assert "linked" in columns  # added by ALTER TABLE in 0005
        assert db.migrate() == max(files)  # a second start applies nothing
    finally:
        db.close()
