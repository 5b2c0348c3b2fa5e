"""``callassist streams kb-report``: the KB owners' report from the QA store, as a table or JSON.

    callassist streams kb-report [--db-url URL] [--sqlite PATH] [--json] [--limit N]

The QA store is the UI's (``CALLASSIST_UI_DB_URL`` / ``CALLASSIST_UI_SQLITE_PATH`` /
``<CALLASSIST_DATA_DIR>/qa.sqlite3``), so the command lives here and the ``callassist``
dispatcher routes it (streams, a lower layer, does not import the UI).  Rows are worst first:
the lowest hit rate among the most suggested entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assist_ui.kb_report import kb_report
from assist_ui.settings import UiSettings
from assist_ui.store import make_store


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no suggestions in the QA store yet"
    head = (f"{'kind':<9} {'entry':<28} {'intent':<24} {'suggested':>9} {'useful':>6} {'not':>5} {'hit rate':>8} "
            f"{'useful/rated':>12}  title")
    lines = [head]
    for r in rows:
        entry = r.get("entry_id") or "-"
        lines.append(f"{r['kind']:<9} {entry[:28]:<28} {r['intent'][:24]:<24} {r['suggested']:>9} {r['useful']:>6} "
                     f"{r['not_useful']:>5} "
                     f"{_pct(r['hit_rate']):>8} {_pct(r['useful_share']):>12}  {r['title']}")
    return "\n".join(lines)


async def _report(settings: UiSettings) -> list[dict[str, Any]]:
    store = make_store(settings)
    await store.open()
    try:
        return await kb_report(store)
    finally:
        await store.close()


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="callassist streams kb-report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db-url", help="PostgreSQL URL of the QA store (default: CALLASSIST_UI_DB_URL, else SQLite)")
    p.add_argument("--sqlite", type=Path, help="SQLite QA store file (default: <data_dir>/qa.sqlite3)")
    p.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    p.add_argument("--limit", type=int, default=0, help="only the first N rows (0 = all)")
    args = p.parse_args(list(argv))
    overrides: dict[str, Any] = {k: v for k, v in {"ui_db_url": args.db_url, "ui_sqlite_path": args.sqlite}.items()
                                 if v is not None}
    try:
        rows = asyncio.run(_report(UiSettings(**overrides)))
    except (OSError, ValueError) as exc:
        print(f"callassist streams kb-report: {exc}", file=sys.stderr)
        return 1
    rows = rows[: args.limit] if args.limit > 0 else rows
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print(format_table(rows))
    return 0
