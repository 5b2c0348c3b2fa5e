"""The QA store interface: one API over SQLite (embedded default) and PostgreSQL (production).

Everything written goes through :func:`assist_ui.redact` first: summaries in
:meth:`QaStore.put_call` and reviewers' notes in :meth:`QaStore.set_review`, so no
back end can hold a phone number, ID card or bank card however it is called.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from typing import Any

from assist_ui.audio_redaction import pii_audio_spans
from assist_ui.redact import redact, redact_obj
from assist_ui.store.model import CallFilter, alert_rows, call_row, check_review
from assist_ui.store.schema import ACTION_COLUMNS, FEEDBACK_COLUMNS, OVERRIDE_COLUMNS, PLAYBACK_COLUMNS


class QaStore(ABC):
    dialect = ""

    async def put_call(self, summary: dict[str, Any], now: float | None = None) -> str:
        """Store one CallSummary dict (redacted here). Returns 'inserted', 'updated' or 'duplicate'.

        Idempotent by call_id: the same summary again is a no-op; a different one for the
        same call replaces it (a re-scored call) but keeps the reviewers' verdicts.
        """
        # redacting a whole call is CPU work (every segment through the PII patterns): a thread,
        # so the live sockets sharing this event loop are not held up
        row, alerts = await asyncio.to_thread(_clean_rows, summary, time.time() if now is None else now)
        return await self._upsert(row, alerts)

    async def set_review(
        self, call_id: str, verdict: str, reviewer: str, note: str = "", alert_id: str = "", now: float | None = None
    ) -> dict[str, Any]:
        check_review(verdict, note, alert_id)
        review = {
            "call_id": call_id,
            "alert_id": alert_id,
            "verdict": verdict,
            "note": redact(note.strip()),
            "reviewer": reviewer,
            "reviewed_at": time.time() if now is None else now,
        }
        await self._put_review(review)
        return review

    async def get_call(self, call_id: str) -> dict[str, Any] | None:
        found = await self._get_call(call_id)
        if found is None:
            return None
        row, reviews = found
        return {
            "call": await asyncio.to_thread(_decode_call, row["summary"]),  # a whole call: off the loop
            "stored_at": row["stored_at"],
            "updated_at": row["updated_at"],
            "reviews": reviews,
            "actions": await self._actions_of(call_id),
        }

    async def put_action(self, action: dict[str, Any]) -> bool:
        """Store one live action (ack, whisper, help, raise/lower hand); False if its id was stored before.

        The text is redacted here: a whisper is read later by QA and auditors, not only by the agent.
        """
        row = {key: action.get(key, "") for key in ACTION_COLUMNS}
        row["text"] = redact(str(row["text"]))
        row["at"] = float(action.get("at") or time.time())
        return await self._put_action(row)

    async def actions_of(self, call_id: str) -> list[dict[str, Any]]:
        """Every stored live action of a call, oldest first."""
        return await self._actions_of(call_id)

    async def put_playback(self, playback: dict[str, Any]) -> None:
        """Audit one recording playback (``playback_id, call_id, user_id, user_role, redacted, at``)."""
        row = {key: playback.get(key, "") for key in PLAYBACK_COLUMNS}
        row["redacted"] = 1 if playback.get("redacted", True) else 0
        row["at"] = float(playback.get("at") or time.time())
        await self._put_playback(row)

    async def playbacks_of(self, call_id: str) -> list[dict[str, Any]]:
        """Every audited playback of a call, oldest first."""
        return await self._playbacks_of(call_id)

    async def put_score_override(self, override: dict[str, Any]) -> dict[str, Any]:
        """Set (or replace) a reviewer's score for one scorecard item; the note is redacted."""
        row = {key: override.get(key, "") for key in OVERRIDE_COLUMNS}
        row["note"] = redact(str(row["note"]).strip())
        row["score"], row["auto"] = float(override["score"]), float(override["auto"])
        row["at"] = float(override.get("at") or time.time())
        await self._put_score_override(row)
        return row

    async def score_overrides_of(self, call_id: str) -> list[dict[str, Any]]:
        return await self._score_overrides_of(call_id)

    async def _put_score_override(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _score_overrides_of(self, call_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def _put_playback(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _playbacks_of(self, call_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def put_feedback(self, feedback: dict[str, Any]) -> dict[str, Any]:
        """Store one "useful / not useful" on a suggestion; the same user again replaces it."""
        row = {key: feedback.get(key, "") for key in FEEDBACK_COLUMNS}
        row["useful"] = 1 if feedback.get("useful") else 0
        row["at"] = float(feedback.get("at") or time.time())
        await self._put_feedback(row)
        return row

    async def feedback_of(self, call_id: str) -> list[dict[str, Any]]:
        return await self._feedback_of(call_id)

    async def kb_usage(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(KB suggestions in stored calls per intent: intent, title, suggested;
        feedback per intent: intent, title, useful, not_useful) for the KB owners' report."""
        return await self._kb_usage()

    # -- back end ----------------------------------------------------------------
    @abstractmethod
    async def _put_feedback(self, row: dict[str, Any]) -> None:
        """Insert or replace by (call_id, suggestion_id, user_id)."""

    @abstractmethod
    async def _feedback_of(self, call_id: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def _kb_usage(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def _upsert(self, row: dict[str, Any], alerts: list[dict[str, Any]]) -> str: ...

    @abstractmethod
    async def _put_review(self, review: dict[str, Any]) -> None:
        """Insert or replace; raise ReviewError if the call (or alert) does not exist."""

    @abstractmethod
    async def _put_action(self, row: dict[str, Any]) -> bool:
        """Insert unless ``action_id`` exists; True if inserted."""

    @abstractmethod
    async def _actions_of(self, call_id: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def _get_call(self, call_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...

    @abstractmethod
    async def list_calls(self, f: CallFilter) -> tuple[list[dict[str, Any]], int]:
        """(page of list items ranked per ``f.sort``, total matching)."""

    @abstractmethod
    async def facets(self) -> dict[str, list[str]]:
        """Distinct agents, queues, languages and rules, for the filter drop-downs."""

    @abstractmethod
    async def ping(self) -> bool: ...


def _clean_rows(summary: dict[str, Any], now: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The redacted call row and its alert rows (runs in a worker thread)."""
    clean = redact_obj(summary)
    # computed before redaction drops the word timings: what QA playback must hide
    clean["audio_redactions"] = pii_audio_spans(summary.get("transcript") or [])
    return call_row(clean, now), alert_rows(clean)


def _decode_call(text: str) -> dict[str, Any]:
    """A stored call's summary JSON (runs in a worker thread: it can be a few MB)."""
    call: dict[str, Any] = json.loads(text)
    return call
