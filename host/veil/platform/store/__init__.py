"""The platform's store: disguised records and quarantined messages. No keys.

Two backends share one small interface (`base.RecordStore`): SQLite (`sqlite.SqliteStore`, the
embedded default, one file) and PostgreSQL (`postgres.PgStore`, for several ingest machines
writing to one store). `open_store()` picks one from a path or a `postgresql://` URL.
"""

from __future__ import annotations

from pathlib import Path

from .base import RecordColumns, RecordStore
from .postgres import PgStore
from .sqlite import SqliteStore

__all__ = ["PgStore", "RecordColumns", "RecordStore", "SqliteStore", "open_store"]


def open_store(target: str | Path, *, create: bool = True, timeout: float = 30) -> RecordStore:
    """A PostgreSQL store for a `postgresql://` URL, else the SQLite file at `target`, whose
    writes wait up to `timeout` seconds for another process's lock."""
    if str(target).startswith(("postgresql://", "postgres://")):
        return PgStore(str(target), create=create)
    return SqliteStore(target, create=create, timeout=timeout)
