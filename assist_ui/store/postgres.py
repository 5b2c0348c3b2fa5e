"""PostgreSQL QA store (production) via asyncpg, same schema and queries as SQLite.

Migrations take a transaction-scoped advisory lock so several UI/sink replicas starting
together apply each migration once.  An optional schema keeps the tables apart (tests use
a throw-away schema per run).
"""

from __future__ import annotations

import re
import time
from typing import Any

import asyncpg

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

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_LOCK = 0x43414C4C  # "CALL": any constant shared by all replicas


def _pg(sql: str) -> str:
    """'?' placeholders (shared SQL) to asyncpg's $1, $2, ..."""
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


class PostgresStore(QaStore):
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str = "", min_size: int = 1, max_size: int = 5) -> None:
        if schema and not _SCHEMA_RE.match(schema):
            raise ValueError(f"PostgreSQL schema name {schema!r}: lower-case letters, digits and _ only")
        self.dsn = dsn
        self.schema = schema
        self.min_size, self.max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        # the DSN may carry a password: show host/db only
        safe = re.sub(r"//[^@/]*@", "//***@", self.dsn)
        return f"PostgresStore({safe}, schema={self.schema or 'public'})"

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not open")
        return self._pool

    async def open(self) -> None:
        if self.schema:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        settings = {"search_path": self.schema} if self.schema else {}
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_size, max_size=self.max_size, server_settings=settings
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(MIGRATIONS_TABLE.format(real="DOUBLE PRECISION"))
            current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
            for version, statements in MIGRATIONS["postgres"]:
                if version <= current:
                    continue
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, time.time())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        return await self.pool.fetchval("SELECT 1") == 1

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT max(version) FROM schema_migrations"))

    async def _upsert(self, row: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
        cols = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("call_id", "stored_at"))
        async with self.pool.acquire() as conn, conn.transaction():
            old = await conn.fetchval("SELECT content_hash FROM calls WHERE call_id = $1 FOR UPDATE", row["call_id"])
            if old == row["content_hash"]:
                return "duplicate"
            await conn.execute(
                _pg(
                    f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                    f"ON CONFLICT (call_id) DO UPDATE SET {updates}"
                ),
                *[row[c] for c in cols],
            )
            await conn.execute("DELETE FROM alerts WHERE call_id = $1", row["call_id"])
            await conn.executemany(
                "INSERT INTO alerts (call_id, alert_id, rule_id, severity, severity_rank) VALUES ($1, $2, $3, $4, $5)",
                [(a["call_id"], a["alert_id"], a["rule_id"], a["severity"], a["severity_rank"]) for a in alerts],
            )
        return "inserted" if old is None else "updated"

    async def _put_review(self, r: dict[str, Any]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM calls WHERE call_id = $1", r["call_id"]) is None:
                raise ReviewError(f"no call {r['call_id']!r} in the QA store")
            if r["alert_id"] and await conn.fetchval(
                "SELECT 1 FROM alerts WHERE call_id = $1 AND alert_id = $2", r["call_id"], r["alert_id"]
            ) is None:
                raise ReviewError(f"call {r['call_id']!r} has no alert {r['alert_id']!r}")
            await conn.execute(
                "INSERT INTO reviews (call_id, alert_id, verdict, note, reviewer, reviewed_at) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id, alert_id) DO UPDATE SET "
                "verdict = excluded.verdict, note = excluded.note, reviewer = excluded.reviewer, "
                "reviewed_at = excluded.reviewed_at",
                r["call_id"], r["alert_id"], r["verdict"], r["note"], r["reviewer"], r["reviewed_at"],
            )

    async def _put_action(self, row: dict[str, Any]) -> bool:
        placeholders = ", ".join(f"${i + 1}" for i in range(len(ACTION_COLUMNS)))
        status = await self.pool.execute(
            f"INSERT INTO live_actions ({', '.join(ACTION_COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT (action_id) DO NOTHING",
            *[row[k] for k in ACTION_COLUMNS],
        )
        return bool(status.endswith(" 1"))

    async def _put_score_override(self, row: dict[str, Any]) -> None:
        placeholders = ", ".join(f"${i + 1}" for i in range(len(OVERRIDE_COLUMNS)))
        await self.pool.execute(
            f"INSERT INTO score_overrides ({', '.join(OVERRIDE_COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT (call_id, item_id) DO UPDATE SET score = excluded.score, auto = excluded.auto, "
            "note = excluded.note, reviewer = excluded.reviewer, at = excluded.at",
            *[row[k] for k in OVERRIDE_COLUMNS],
        )

    async def _score_overrides_of(self, call_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(OVERRIDE_COLUMNS)} FROM score_overrides WHERE call_id = $1 ORDER BY item_id", call_id
        )
        return [dict(r) for r in rows]

    async def _put_playback(self, row: dict[str, Any]) -> None:
        placeholders = ", ".join(f"${i + 1}" for i in range(len(PLAYBACK_COLUMNS)))
        await self.pool.execute(
            f"INSERT INTO playbacks ({', '.join(PLAYBACK_COLUMNS)}) VALUES ({placeholders})",
            *[row[k] for k in PLAYBACK_COLUMNS],
        )

    async def _playbacks_of(self, call_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(PLAYBACK_COLUMNS)} FROM playbacks WHERE call_id = $1 ORDER BY at, playback_id", call_id
        )
        return [dict(r) for r in rows]

    async def _actions_of(self, call_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(ACTION_COLUMNS)} FROM live_actions WHERE call_id = $1 ORDER BY at, action_id", call_id
        )
        return [dict(r) for r in rows]

    async def _put_feedback(self, row: dict[str, Any]) -> None:
        placeholders = ", ".join(f"${i + 1}" for i in range(len(FEEDBACK_COLUMNS)))
        updates = ", ".join(f"{c} = excluded.{c}" for c in FEEDBACK_COLUMNS[3:])
        await self.pool.execute(
            f"INSERT INTO kb_feedback ({', '.join(FEEDBACK_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT (call_id, suggestion_id, user_id) DO UPDATE SET {updates}",
            *[row[k] for k in FEEDBACK_COLUMNS],
        )

    async def _feedback_of(self, call_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM kb_feedback WHERE call_id = $1 ORDER BY at, suggestion_id",
            call_id,
        )
        return [dict(r) for r in rows]

    async def _kb_usage(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with self.pool.acquire() as conn:
            suggested = [dict(r) for r in await conn.fetch(SUGGESTED_BY_INTENT["postgres"])]
            return suggested, [dict(r) for r in await conn.fetch(FEEDBACK_BY_INTENT)]

    async def _get_call(self, call_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT summary, stored_at, updated_at FROM calls WHERE call_id = $1", call_id)
            if row is None:
                return None
            reviews = await conn.fetch(
                "SELECT alert_id, verdict, note, reviewer, reviewed_at FROM reviews WHERE call_id = $1 "
                "ORDER BY alert_id",
                call_id,
            )
        return dict(row), [dict(r) for r in reviews]

    async def list_calls(self, f: CallFilter) -> tuple[list[dict[str, Any]], int]:
        select, count, params = list_query(f, "postgres")
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_pg(select), *params, f.limit, f.offset)
            total = await conn.fetchval(_pg(count), *params)
        return [list_item(dict(r), f.q) for r in rows], int(total)

    async def facets(self) -> dict[str, list[str]]:
        async with self.pool.acquire() as conn:
            async def distinct(sql: str) -> list[str]:
                return [r[0] for r in await conn.fetch(sql) if r[0]]

            return {
                "agents": await distinct("SELECT DISTINCT agent_id FROM calls ORDER BY 1"),
                "queues": await distinct("SELECT DISTINCT queue FROM calls ORDER BY 1"),
                "languages": await distinct("SELECT DISTINCT language FROM calls ORDER BY 1"),
                "rules": await distinct("SELECT DISTINCT rule_id FROM alerts ORDER BY 1"),
            }
