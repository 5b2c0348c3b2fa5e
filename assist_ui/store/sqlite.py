"""SQLite QA store (the embedded default): stdlib sqlite3 on one dedicated thread.

sqlite3 connections belong to the thread that made them and every call blocks, so the
connection lives on a single-thread executor and the event loop only awaits futures.
WAL mode lets ``callassist ui`` read while the sink writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from assist_ui.store.base import QaStore
from assist_ui.store.model import CallFilter, ReviewError, list_item, list_query
from assist_ui.store.schema import (
    ACTION_COLUMNS,
    FEEDBACK_BY_INTENT,
    FEEDBACK_COLUMNS,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    OVERRIDE_COLUMNS,
    PLAYBACK_COLUMNS,
    SUGGESTED_BY_INTENT,
)

T = TypeVar("T")


class SqliteStore(QaStore):
    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-sqlite")
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({self.path})"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), isolation_level=None)  # explicit BEGIN/COMMIT below
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        self._db = db
        db.execute(MIGRATIONS_TABLE.format(real="REAL"))
        current = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        for version, statements in MIGRATIONS["sqlite"]:
            if version <= current:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql in statements:
                    db.execute(sql)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SqliteStore is not open")
        return self._db

    async def ping(self) -> bool:
        return await self._run(lambda: self.db.execute("SELECT 1").fetchone()[0] == 1)

    async def schema_version(self) -> int:
        return await self._run(lambda: self.db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0])

    # -- writes ---------------------------------------------------------------------
    async def _upsert(self, row: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
        return await self._run(self._upsert_sync, row, alerts)

    def _upsert_sync(self, row: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            old = db.execute("SELECT content_hash FROM calls WHERE call_id = ?", (row["call_id"],)).fetchone()
            if old is not None and old[0] == row["content_hash"]:
                db.execute("COMMIT")
                return "duplicate"
            cols = list(row)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("call_id", "stored_at"))
            db.execute(
                f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                f"ON CONFLICT (call_id) DO UPDATE SET {updates}",
                [row[c] for c in cols],
            )
            db.execute("DELETE FROM alerts WHERE call_id = ?", (row["call_id"],))
            db.executemany(
                "INSERT INTO alerts (call_id, alert_id, rule_id, severity, severity_rank) VALUES (?, ?, ?, ?, ?)",
                [(a["call_id"], a["alert_id"], a["rule_id"], a["severity"], a["severity_rank"]) for a in alerts],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return "inserted" if old is None else "updated"

    async def _put_review(self, review: dict[str, Any]) -> None:
        await self._run(self._put_review_sync, review)

    def _put_review_sync(self, r: dict[str, Any]) -> None:
        db = self.db
        if db.execute("SELECT 1 FROM calls WHERE call_id = ?", (r["call_id"],)).fetchone() is None:
            raise ReviewError(f"no call {r['call_id']!r} in the QA store")
        if r["alert_id"] and db.execute(
            "SELECT 1 FROM alerts WHERE call_id = ? AND alert_id = ?", (r["call_id"], r["alert_id"])
        ).fetchone() is None:
            raise ReviewError(f"call {r['call_id']!r} has no alert {r['alert_id']!r}")
        db.execute(
            "INSERT INTO reviews (call_id, alert_id, verdict, note, reviewer, reviewed_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (call_id, alert_id) DO UPDATE SET verdict = excluded.verdict, note = excluded.note, "
            "reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at",
            (r["call_id"], r["alert_id"], r["verdict"], r["note"], r["reviewer"], r["reviewed_at"]),
        )

    async def _put_action(self, row: dict[str, Any]) -> bool:
        def put() -> bool:
            cur = self.db.execute(
                f"INSERT INTO live_actions ({', '.join(ACTION_COLUMNS)}) VALUES ({', '.join('?' * len(ACTION_COLUMNS))}) "
                "ON CONFLICT (action_id) DO NOTHING",
                [row[k] for k in ACTION_COLUMNS],
            )
            return cur.rowcount == 1

        return await self._run(put)

    async def _put_score_override(self, row: dict[str, Any]) -> None:
        def put() -> None:
            self.db.execute(
                f"INSERT INTO score_overrides ({', '.join(OVERRIDE_COLUMNS)}) VALUES ({', '.join('?' * len(OVERRIDE_COLUMNS))}) "
                "ON CONFLICT (call_id, item_id) DO UPDATE SET score = excluded.score, auto = excluded.auto, "
                "note = excluded.note, reviewer = excluded.reviewer, at = excluded.at",
                [row[k] for k in OVERRIDE_COLUMNS],
            )

        await self._run(put)

    async def _score_overrides_of(self, call_id: str) -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT {', '.join(OVERRIDE_COLUMNS)} FROM score_overrides WHERE call_id = ? ORDER BY item_id",
                (call_id,),
            ).fetchall()
            return [dict(r) for r in rows]

        return await self._run(get)

    async def _put_playback(self, row: dict[str, Any]) -> None:
        def put() -> None:
            self.db.execute(
                f"INSERT INTO playbacks ({', '.join(PLAYBACK_COLUMNS)}) VALUES ({', '.join('?' * len(PLAYBACK_COLUMNS))})",
                [row[k] for k in PLAYBACK_COLUMNS],
            )

        await self._run(put)

    async def _playbacks_of(self, call_id: str) -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT {', '.join(PLAYBACK_COLUMNS)} FROM playbacks WHERE call_id = ? ORDER BY at, playback_id",
                (call_id,),
            ).fetchall()
            return [dict(r) for r in rows]

        return await self._run(get)

    async def _actions_of(self, call_id: str) -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT {', '.join(ACTION_COLUMNS)} FROM live_actions WHERE call_id = ? ORDER BY at, action_id",
                (call_id,),
            ).fetchall()
            return [dict(r) for r in rows]

        return await self._run(get)

    async def _put_feedback(self, row: dict[str, Any]) -> None:
        cols = ", ".join(FEEDBACK_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in FEEDBACK_COLUMNS[3:])
        sql = (f"INSERT INTO kb_feedback ({cols}) VALUES ({', '.join('?' * len(FEEDBACK_COLUMNS))}) "
               f"ON CONFLICT (call_id, suggestion_id, user_id) DO UPDATE SET {updates}")
        await self._run(lambda: self.db.execute(sql, [row[k] for k in FEEDBACK_COLUMNS]))

    async def _feedback_of(self, call_id: str) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM kb_feedback WHERE call_id = ? ORDER BY at, suggestion_id"
        return await self._run(lambda: [dict(r) for r in self.db.execute(sql, (call_id,)).fetchall()])

    async def _kb_usage(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            suggested = [dict(r) for r in self.db.execute(SUGGESTED_BY_INTENT["sqlite"]).fetchall()]
            return suggested, [dict(r) for r in self.db.execute(FEEDBACK_BY_INTENT).fetchall()]

        return await self._run(run)

    # -- reads ----------------------------------------------------------------------
    async def _get_call(self, call_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        def get() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            row = self.db.execute(
                "SELECT summary, stored_at, updated_at FROM calls WHERE call_id = ?", (call_id,)
            ).fetchone()
            if row is None:
                return None
            reviews = self.db.execute(
                "SELECT alert_id, verdict, note, reviewer, reviewed_at FROM reviews WHERE call_id = ? "
                "ORDER BY alert_id",
                (call_id,),
            ).fetchall()
            return dict(row), [dict(r) for r in reviews]

        return await self._run(get)

    async def list_calls(self, f: CallFilter) -> tuple[list[dict[str, Any]], int]:
        select, count, params = list_query(f, "sqlite")

        def run() -> tuple[list[dict[str, Any]], int]:
            rows = self.db.execute(select, [*params, f.limit, f.offset]).fetchall()
            total = self.db.execute(count, params).fetchone()[0]
            return [list_item(dict(r), f.q) for r in rows], int(total)

        return await self._run(run)

    async def facets(self) -> dict[str, list[str]]:
        def run() -> dict[str, list[str]]:
            def distinct(sql: str) -> list[str]:
                return [r[0] for r in self.db.execute(sql).fetchall() if r[0]]

            return {
                "agents": distinct("SELECT DISTINCT agent_id FROM calls ORDER BY 1"),
                "queues": distinct("SELECT DISTINCT queue FROM calls ORDER BY 1"),
                "languages": distinct("SELECT DISTINCT language FROM calls ORDER BY 1"),
                "rules": distinct("SELECT DISTINCT rule_id FROM alerts ORDER BY 1"),
            }

        return await self._run(run)
