"""HTTP side of the UI server: the pages, their static files and the JSON API.

No websockets import: :meth:`HttpApi.handle` maps (method, path, headers) to an
:class:`HttpResponse`; ``server.py`` wraps it in websockets' ``process_request``.
websockets reads no request body, so the one write (a QA verdict) is a ``POST`` whose
parameters travel in the query string; it needs the bearer token in the Authorization
header, which a page on another origin cannot send (no CORS), so it is not forgeable.

API (``Authorization: Bearer <token>``)::

    GET  /api/me                               the signed-in user
    GET  /api/live/calls                       live calls visible to the user (wall rows)
    GET  /api/qa/calls?agent&queue&language&rule&severity&from&to&q&reviewed&sort&limit&offset
    GET  /api/qa/calls/<call_id>               one stored call (redacted) with its reviews
    POST /api/qa/calls/<call_id>/review?verdict=true_positive|false_positive[&alert_id][&note]
    GET  /api/qa/facets                        values for the filter drop-downs
    /api/kb/...                                knowledge base search, feedback, report (assist_ui.kb_api)
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from assist_ui.auth import User, UserDirectory, bearer_token
from assist_ui.fanout import Hub, dumps
from assist_ui.kb_api import KbApi, KbApiError
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.redact import redact_obj
from assist_ui.store import FilterError, QaStore, ReviewError, parse_filter

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
PAGES = {
    "/": "index.html",
    "/agent": "agent.html",
    "/supervisor": "supervisor.html",
    "/qa": "qa.html",
    "/qa/call": "call.html",
    # the file names work too (links written as /agent.html)
    "/index.html": "index.html",
    "/agent.html": "agent.html",
    "/supervisor.html": "supervisor.html",
    "/qa.html": "qa.html",
    "/call.html": "call.html",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def json_response(status: int, obj: Any) -> HttpResponse:
    body = dumps(obj).encode()  # strict JSON: never NaN/Infinity
    return HttpResponse(status, body, "application/json; charset=utf-8", {"Cache-Control": "no-store"})


def _error(status: int, message: str) -> HttpResponse:
    return json_response(status, {"error": message})


class HttpApi:
    def __init__(
        self,
        users: UserDirectory,
        store: QaStore | None,
        state: LiveState,
        hub: Hub,
        metrics: UiMetrics,
        ready_check: Callable[[], Awaitable[bool]] | None = None,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self.users = users
        self.store = store
        self.state = state
        self.hub = hub
        self.metrics = metrics
        self.ready_check = ready_check
        self.kb: KbApi | None = None  # set by the server when a KB is configured
        # read once at start-up: no path from a URL ever reaches the disk, and no file
        # read blocks the event loop (the whole set is a few tens of KB)
        files = {"/static/" + p.relative_to(static_dir).as_posix(): p for p in static_dir.rglob("*") if p.is_file()}
        files.update({route: static_dir / name for route, name in PAGES.items()})
        self.files = {route: (p.read_bytes(), _content_type(p)) for route, p in files.items()}

    async def handle(self, method: str, raw_path: str, headers: Mapping[str, str]) -> HttpResponse:
        url = urlsplit(raw_path)
        path = url.path
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        route = path if path in PAGES or path in ("/healthz", "/readyz") else path.split("/")[1] or "/"
        try:
            response = await self._route(method, path, params, headers)
        except Exception:
            log.exception("HTTP %s %s failed", method, path)  # path only: no query, no headers
            self.metrics.error("internal")
            response = _error(500, "internal error")
        self.metrics.http_requests.labels(route if route in ("api", "static") else "page", str(response.status)).inc()
        return response

    async def _route(self, method: str, path: str, params: dict[str, str], headers: Mapping[str, str]) -> HttpResponse:
        if path.startswith("/api/"):
            return await self._api(method, path, params, headers)
        if method not in ("GET", "HEAD"):
            return _error(405, "method not allowed")
        if path == "/healthz":
            return HttpResponse(200, b"ok\n")
        if path == "/readyz":
            ready = self.ready_check is None or await self.ready_check()
            return HttpResponse(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
        found = self.files.get(path)
        if found is None:
            return HttpResponse(404, b"not found\n")
        return HttpResponse(200, found[0], found[1], {"Cache-Control": "no-cache"})

    def _user(self, headers: Mapping[str, str]) -> User | None:
        user = self.users.authenticate(bearer_token(headers.get("Authorization")))
        if user is None:
            self.metrics.auth_failures.labels("http").inc()
        return user

    async def _api(self, method: str, path: str, params: dict[str, str], headers: Mapping[str, str]) -> HttpResponse:
        user = self._user(headers)
        if user is None:
            return HttpResponse(401, b'{"error":"unauthorized"}', "application/json",
                                {"WWW-Authenticate": 'Bearer realm="callassist"'})
        parts = [unquote(p) for p in path.split("/")[2:]]
        if parts == ["me"] and method == "GET":
            return json_response(200, user.public())
        if parts == ["live", "calls"] and method == "GET":
            calls = [c for c in self.state.calls() if self.hub.may_view(user, c)]
            rows = [c.wall_row() if not self.hub.needs_redaction(user, c) else redact_obj(c.wall_row()) for c in calls]
            return json_response(200, {"calls": rows})
        if parts[:1] == ["kb"] and self.kb is not None:
            try:
                return json_response(200, await self.kb.handle(user, method, parts[1:], params))
            except KbApiError as exc:
                return _error(exc.status, str(exc))
        if parts[:1] == ["qa"]:
            if not user.can("qa_read"):
                return _error(403, "forbidden")
            if self.store is None:
                return _error(503, "QA store not configured")
            return await self._qa(user, method, parts[1:], params)
        return _error(404, "no such API")

    async def _qa(self, user: User, method: str, parts: list[str], params: dict[str, str]) -> HttpResponse:
        assert self.store is not None
        if parts == ["calls"] and method == "GET":
            try:
                f = parse_filter(params)
            except FilterError as exc:
                return _error(400, str(exc))
            items, total = await self.store.list_calls(f)
            return json_response(200, {"items": items, "total": total, "limit": f.limit, "offset": f.offset})
        if parts == ["facets"] and method == "GET":
            return json_response(200, await self.store.facets())
        if len(parts) == 2 and parts[0] == "calls" and method == "GET":
            found = await self.store.get_call(parts[1])
            return json_response(200, found) if found else _error(404, "no such call")
        if len(parts) == 3 and parts[0] == "calls" and parts[2] == "review":
            if method != "POST":
                return _error(405, "use POST")
            if not user.can("qa_write"):
                return _error(403, "forbidden")
            try:
                review = await self.store.set_review(
                    parts[1], params.get("verdict", ""), reviewer=user.id, note=params.get("note", ""),
                    alert_id=params.get("alert_id", ""),
                )
            except ReviewError as exc:
                return _error(404 if "no call" in str(exc) or "has no alert" in str(exc) else 400, str(exc))
            return json_response(200, review)
        return _error(404, "no such API")
