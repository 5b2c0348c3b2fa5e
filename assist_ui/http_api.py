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
    GET  /api/qa/calls/<call_id>/scorecard     the QA form filled for the call (automatic + overrides)
    POST /api/qa/calls/<call_id>/scorecard?item&score[&note]   (QA) override one item; the automatic score is kept
    GET  /api/qa/export.csv?<list filters>     ranked calls with risk and scorecard totals
    GET  /api/qa/calls/<call_id>/summary       extractive summary (reason, asks, commitments, outcome, alerts, emotion)
    POST /api/qa/calls/<call_id>/playback      (QA, supervisor) audit a playback, get a ticket URL
    GET  /recordings/<ticket>                  the (redacted) recording, HTTP Range supported
    /api/kb/...                                knowledge base search, feedback, report (assist_ui.kb_api)
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import mimetypes
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from assist_ui.auth import User, UserDirectory, bearer_token
from assist_ui.call_summary import summarise
from assist_ui.fanout import Hub, dumps
from assist_ui.kb_api import KbApi, KbApiError
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.playback import PlaybackAudio, RangeNotSatisfiable, Span, Tickets, parse_range
from assist_ui.redact import redact_obj
from assist_ui.scorecard import Form, export_csv, fill, load_form
from assist_ui.store import FilterError, QaStore, ReviewError, parse_filter
from streams.contract.vocab import severity_of_rank, severity_rank

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


_MAX_TICKET_SPANS = 1000  # tickets whose spans this replica remembers (the rest ask the store again)


def _audio_spans(call: Mapping[str, Any]) -> tuple[Span, ...]:
    """(channel, start, end) of every span where redacted PII was spoken (hidden by a tone)."""
    return tuple((str(r.get("channel", "")), float(r["start"]), float(r["end"]))
                 for r in call.get("audio_redactions") or [])


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
        playback: PlaybackAudio | None = None,
        scorecard_form: Form | None = None,
        playback_secret: str = "",
    ) -> None:
        self.playback = playback
        self.form = scorecard_form or load_form()
        self.tickets = Tickets(playback_secret or None)
        # ticket -> the PII spans to hide (a player sends many range requests per ticket)
        self._ticket_spans: OrderedDict[str, tuple[Span, ...]] = OrderedDict()
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
        if path.startswith("/recordings/"):
            return await self._recording(path.removeprefix("/recordings/"), headers)
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
        if parts == ["export.csv"] and method == "GET":
            return await self._export(params)
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
        if len(parts) == 3 and parts[0] == "calls" and parts[2] == "summary" and method == "GET":
            found = await self.store.get_call(parts[1])
            if not found:
                return _error(404, "no such call")
            return json_response(200, await asyncio.to_thread(summarise, found["call"]))  # CPU: off the loop
        if len(parts) == 3 and parts[0] == "calls" and parts[2] == "playback":
            return await self._start_playback(user, method, parts[1])
        if len(parts) == 3 and parts[0] == "calls" and parts[2] == "scorecard":
            return await self._scorecard(user, method, parts[1], params)
        return _error(404, "no such API")

    # -- scorecards (assist_ui/scorecard.py) --------------------------------------------------
    async def _scorecard(self, user: User, method: str, call_id: str, params: dict[str, str]) -> HttpResponse:
        assert self.store is not None
        found = await self.store.get_call(call_id)
        if found is None:
            return _error(404, "no such call")
        if method == "POST":
            if not user.can("qa_write"):
                return _error(403, "forbidden")
            item = next((i for i in self.form.items if i.id == params.get("item", "")), None)
            if item is None:
                return _error(400, "no such scorecard item")
            try:
                score = float(params.get("score", ""))
            except ValueError:
                return _error(400, "score must be a number")
            if not 0 <= score <= item.weight:
                return _error(400, f"score must be between 0 and {item.weight:g}")
            note = params.get("note", "")
            if len(note) > 2000:
                return _error(400, "note too long")
            card = await asyncio.to_thread(fill, self.form, found["call"])
            auto = next(i["auto"] for i in card["items"] if i["id"] == item.id)
            await self.store.put_score_override({"call_id": call_id, "item_id": item.id, "score": score, "auto": auto,
                                                 "note": note, "reviewer": user.id})
        elif method != "GET":
            return _error(405, "use GET or POST")
        overrides = await self.store.score_overrides_of(call_id)
        return json_response(200, await asyncio.to_thread(fill, self.form, found["call"], overrides))

    async def _export(self, params: dict[str, str]) -> HttpResponse:
        """Every matching call, ranked (risk by default), with its scorecard totals, as CSV."""
        assert self.store is not None
        try:
            f = parse_filter({k: v for k, v in params.items() if k not in ("limit", "offset")})
        except FilterError as exc:
            return _error(400, str(exc))
        f = dataclasses.replace(f, limit=200, offset=0)
        rows: list[dict[str, Any]] = []
        while len(rows) < 5000:
            items, total = await self.store.list_calls(f)
            for item in items:
                found = await self.store.get_call(item["call_id"])
                if found is None:
                    continue
                overrides = await self.store.score_overrides_of(item["call_id"])
                card = await asyncio.to_thread(fill, self.form, found["call"], overrides)
                worst = severity_of_rank(int(item.get("max_severity") or 0))
                level = item.get("risk_level", "")
                if severity_rank(worst) > severity_rank(level):
                    level = worst  # never below the worst alert (a Critical alert is never "high")
                rows.append({**item, "rank": len(rows) + 1, "risk_level": level, "max_severity": worst,
                             "score_auto": card["auto_total"], "score_final": card["total"], "score_max": card["max"],
                             "overridden_items": " ".join(i["id"] for i in card["items"] if i["override"])})
            f = dataclasses.replace(f, offset=f.offset + len(items))
            if not items or f.offset >= total:
                break
        body = await asyncio.to_thread(lambda: export_csv(rows).encode("utf-8-sig"))
        return HttpResponse(200, body, "text/csv; charset=utf-8",
                            {"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="qa-calls.csv"'})

    # -- recording playback (assist_ui/playback.py) -------------------------------------------
    async def _start_playback(self, user: User, method: str, call_id: str) -> HttpResponse:
        assert self.store is not None
        if method != "POST":
            return _error(405, "use POST")
        if user.role not in ("qa", "supervisor"):
            return _error(403, "forbidden")
        if self.playback is None:
            return _error(503, "recordings not configured")
        found = await self.store.get_call(call_id)
        if found is None:
            return _error(404, "no such call")  # no transcript: the PII spans to hide are unknown
        if not await asyncio.to_thread(self.playback.exists, call_id):
            return _error(404, "no recording of this call")
        spans = _audio_spans(found["call"])
        at = time.time()
        try:  # the audit comes first: no playback the trail lacks
            await self.store.put_playback({"playback_id": uuid.uuid4().hex, "call_id": call_id, "user_id": user.id,
                                           "user_role": user.role, "redacted": True, "at": at})
        except Exception:
            log.exception("could not audit a playback")
            self.metrics.error("storage")
            return _error(503, "playback not audited")
        ticket = self.tickets.issue(call_id, user.id)
        self._remember_spans(ticket, spans)
        return json_response(200, {"url": f"/recordings/{ticket}", "expires_in": self.tickets.ttl_s,
                                   "redacted_spans": len(spans), "at": at})

    def _remember_spans(self, token: str, spans: tuple[Span, ...]) -> None:
        self._ticket_spans[token] = spans
        while len(self._ticket_spans) > _MAX_TICKET_SPANS:
            self._ticket_spans.popitem(last=False)

    async def _recording(self, token: str, headers: Mapping[str, str]) -> HttpResponse:
        ticket = self.tickets.resolve(token)
        if ticket is None or self.playback is None or self.store is None:
            return HttpResponse(404, b"not found\n")
        spans = self._ticket_spans.get(token)
        if spans is None:  # issued by another replica (or before a restart): the spans come from the store
            found = await self.store.get_call(ticket.call_id)
            if found is None:
                return HttpResponse(404, b"not found\n")
            spans = _audio_spans(found["call"])
            self._remember_spans(token, spans)
        data = await self.playback.flac(ticket.call_id, list(spans))
        if data is None:
            return HttpResponse(404, b"not found\n")
        base = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
        try:
            rng = parse_range(headers.get("Range"), len(data))
        except RangeNotSatisfiable:
            return HttpResponse(416, b"", "audio/flac", {**base, "Content-Range": f"bytes */{len(data)}"})
        if rng is None:
            return HttpResponse(200, data, "audio/flac", base)
        a, b = rng
        return HttpResponse(206, data[a : b + 1], "audio/flac", {**base, "Content-Range": f"bytes {a}-{b}/{len(data)}"})
