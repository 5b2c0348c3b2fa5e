"""Knowledge base on the agent panel: search, "useful / not useful" feedback, the KB owners' report.

HTTP API (same bearer-token auth as the rest of ``/api``)::

    GET  /api/kb/search?q=...[&lang=zh|en][&k=N]     any signed-in user: best articles (title, answer, links)

The KB is loaded exactly as the streams worker loads it (``streams.assist.kb_source`` on
``CALLASSIST_STREAMS_KB_PATH``) and reloaded when the file changes.  Loading, reloading and
scoring are CPU work, so they run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from assist_ui.auth import User
from streams.assist import kb_source
from streams.kb.index import KBIndex
from streams.kb.search import MAX_QUERY_CHARS, agent_search
from streams.kb.versioned import ReloadingFile

log = logging.getLogger(__name__)

MAX_RESULTS = 10


class KbApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class KbApi:
    def __init__(self, kb_path: Path) -> None:
        self.kb_path = kb_path
        self._source: ReloadingFile[KBIndex] | None = None
        self._lock = asyncio.Lock()

    async def _index(self) -> KBIndex:
        async with self._lock:  # one load at a time; later calls only check the file stamp
            if self._source is None:
                self._source = await asyncio.to_thread(kb_source, self.kb_path)
            else:
                await asyncio.to_thread(self._source.maybe_reload)
            return self._source.current

    async def search(self, user: User, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("q", "").strip()
        if not query:
            raise KbApiError(400, "q is required")
        if len(query) > MAX_QUERY_CHARS:
            raise KbApiError(400, f"q is longer than {MAX_QUERY_CHARS} characters")
        lang = params.get("lang", "")
        if lang not in ("", "zh", "en"):
            raise KbApiError(400, "lang must be zh or en")
        try:
            k = int(params.get("k", "5"))
        except ValueError:
            raise KbApiError(400, "k must be a number") from None
        if not 1 <= k <= MAX_RESULTS:
            raise KbApiError(400, f"k must be 1..{MAX_RESULTS}")
        index = await self._index()
        results = await asyncio.to_thread(agent_search, index, query, k, lang)
        return {"query": query, "kb_version": index.version, "results": results}

    async def handle(self, user: User, method: str, parts: list[str], params: dict[str, str]) -> dict[str, Any]:
        if parts == ["search"] and method == "GET":
            return await self.search(user, params)
        raise KbApiError(404, "no such API")
