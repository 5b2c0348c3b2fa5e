"""Knowledge base on the agent panel: search, "useful / not useful" feedback, the KB owners' report.

HTTP API (same bearer-token auth as the rest of ``/api``)::

    GET  /api/kb/search?q=...[&lang=zh|en][&k=N]     any signed-in user: best articles (title, answer, links)
    POST /api/kb/feedback?call_id&suggestion_id&useful=true|false
                                                    whoever may see the call: stored in the QA store
    GET  /api/kb/report                             QA and supervisors: suggestions by hit rate and feedback

The KB is loaded exactly as the streams worker loads it (``streams.kb.source.kb_source`` on
``CALLASSIST_STREAMS_KB_PATH``) and reloaded when the file changes.  Loading, reloading and
scoring are CPU work, so they run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from assist_ui.auth import User
from assist_ui.fanout import Hub
from assist_ui.kb_report import kb_report
from assist_ui.live_state import LiveState
from assist_ui.store import QaStore
from streams.kb.index import KBIndex
from streams.kb.search import MAX_QUERY_CHARS, agent_search
from streams.kb.source import kb_source
from streams.matching.versioned import FileFormatError, ReloadingFile

log = logging.getLogger(__name__)

MAX_RESULTS = 10


class KbApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class KbApi:
    def __init__(self, kb_path: Path, state: LiveState, hub: Hub, store: QaStore | None) -> None:
        self.kb_path = kb_path
        self.state = state
        self.hub = hub
        self.store = store
        self._source: ReloadingFile[KBIndex] | None = None
        self._lock = asyncio.Lock()

    async def _index(self) -> KBIndex:
        async with self._lock:  # one load at a time; later calls only check the file stamp
            if self._source is None:
                try:
                    self._source = await asyncio.to_thread(kb_source, self.kb_path)
                except (OSError, FileFormatError) as exc:  # a later reload keeps the last good version
                    log.error("knowledge base %s not loaded: %s", self.kb_path, exc)
                    raise KbApiError(503, "knowledge base unavailable") from None
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
        if parts == ["feedback"]:
            if method != "POST":
                raise KbApiError(405, "use POST")
            return await self.feedback(user, params)
        if parts == ["report"] and method == "GET":
            if not (user.can("qa_read") or user.can("wall")):
                raise KbApiError(403, "forbidden")
            return {"rows": await kb_report(self._store())}
        raise KbApiError(404, "no such API")

    def _store(self) -> QaStore:
        if self.store is None:
            raise KbApiError(503, "QA store not configured")
        return self.store

    async def _suggestion(self, user: User, call_id: str, suggestion_id: str) -> dict[str, Any]:
        """The suggestion as the user saw it: on the live call, else in the stored call."""
        call = self.state.get(call_id)
        if call is not None:
            if not self.hub.may_view(user, call):
                raise KbApiError(404, "no such call")
            found = call.suggestions.get(suggestion_id)
            if found is None:
                raise KbApiError(404, "no such suggestion")
            return found
        stored = await self._store().get_call(call_id)
        summary = stored["call"] if stored else None
        if summary is None or not (user.can("live_all") or summary.get("agent_id") == user.id):
            raise KbApiError(404, "no such call")
        for s in summary.get("suggestions") or []:
            if s.get("suggestion_id") == suggestion_id:
                return dict(s)
        raise KbApiError(404, "no such suggestion")

    async def feedback(self, user: User, params: dict[str, str]) -> dict[str, Any]:
        call_id, suggestion_id = params.get("call_id", ""), params.get("suggestion_id", "")
        useful = params.get("useful", "")
        if not 0 < len(call_id) <= 200 or not 0 < len(suggestion_id) <= 400:
            raise KbApiError(400, "call_id and suggestion_id are required")
        if useful not in ("true", "false"):
            raise KbApiError(400, "useful must be true or false")
        store = self._store()
        s = await self._suggestion(user, call_id, suggestion_id)
        try:
            return await store.put_feedback({
                "call_id": call_id, "suggestion_id": suggestion_id, "user_id": user.id, "user_role": user.role,
                "useful": useful == "true", "kind": s.get("kind", ""), "intent": s.get("intent", ""),
                "title": s.get("title", ""), "kb_version": s.get("kb_version", ""), "entry_id": s.get("entry_id", ""),
            })
        except Exception as exc:  # the store is down: say so, the button stays unpressed
            log.error("KB feedback on %s not stored: %s", call_id, type(exc).__name__)
            raise KbApiError(503, "not_stored") from None
