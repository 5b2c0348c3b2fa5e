"""QA store: SQLite file by default, PostgreSQL when ``CALLASSIST_UI_DB_URL`` is set."""

from __future__ import annotations

from assist_ui.settings import UiSettings
from assist_ui.store.base import QaStore
from assist_ui.store.model import VERDICTS, CallFilter, FilterError, ReviewError, parse_filter

__all__ = ["VERDICTS", "CallFilter", "FilterError", "QaStore", "ReviewError", "make_store", "parse_filter"]


def make_store(settings: UiSettings) -> QaStore:
    """The configured store (not opened yet: ``await store.open()``)."""
    url = settings.ui_db_url.strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("CALLASSIST_UI_DB_URL must be a postgresql:// URL (empty = the SQLite file)")
        from assist_ui.store.postgres import PostgresStore

        return PostgresStore(url, schema=settings.ui_pg_schema)
    from assist_ui.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path())
