"""Recording playback through the UI server: roles, audit, tickets, HTTP ranges, redacted spans.

A real UI server (real broker, real SQLite store) serves a recording written by the
recording store; the played audio must carry a tone where the transcript's words say PII
was spoken, and unchanged audio elsewhere.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from test_ui_server import ROLES, TOKENS, http, ui  # noqa: F401  (the `ui` fixture)

from assist_ui.app import UiApp
from assist_ui.samples import sample_call
from assist_ui.settings import UiSettings
from streams.platform.recording_spool import SpooledFrame
from streams.platform.recording_store import RecordingStore

pytestmark = pytest.mark.integration
RATE = 8000


def _raw(app: Any, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{app.server.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _noise(seconds: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)


async def _stored_call(app: Any, call_id: str) -> dict[str, Any]:
    summary = json.loads(sample_call(call_id, "agent-1", "zh")[-1].record.to_bytes())
    # the customer says a phone number from 9.0 to 10.5 s: words give the span to hide
    summary["transcript"] = [{
        "call_id": call_id, "channel": "customer", "segment_id": "s1", "is_final": True, "start": 8.0, "end": 11.0,
        "text": "我的手机是13812345678", "language": "zh",
        "words": [{"start": 8.0, "end": 9.0, "text": "我的手机是"}, {"start": 9.0, "end": 10.5, "text": "13812345678"}],
    }]
    await app.store.put_call(summary)
    return summary


async def test_playback_roles_audit_ranges_and_redaction(ui: Any) -> None:  # noqa: F811
    call_id = "it-play-1"
    agent, cust = _noise(12, 1), _noise(12, 2)
    store = RecordingStore(ui.settings.recordings_path())
    await asyncio.to_thread(store.write_call, call_id, {
        "agent": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", agent.tobytes())},
        "customer": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", cust.tobytes())},
    })
    path = f"/api/qa/calls/{call_id}/playback"
    assert (await asyncio.to_thread(http, ui, "POST", path, TOKENS["qa-1"]))[0] == 404  # no stored call yet
    await _stored_call(ui, call_id)

    # agents are refused, with and without a token; GET is not how playback starts
    assert (await asyncio.to_thread(http, ui, "POST", path, TOKENS["agent-1"]))[0] == 403
    assert (await asyncio.to_thread(http, ui, "POST", path, None))[0] == 401
    assert (await asyncio.to_thread(http, ui, "GET", path, TOKENS["qa-1"]))[0] == 405
    assert await ui.store.playbacks_of(call_id) == []

    status, body = await asyncio.to_thread(http, ui, "POST", path, TOKENS["sup-1"])
    assert status == 200 and body["url"].startswith("/recordings/") and body["redacted_spans"] == 1
    status, body = await asyncio.to_thread(http, ui, "POST", path, TOKENS["qa-1"])
    assert status == 200
    audit = await ui.store.playbacks_of(call_id)
    assert [(a["user_id"], a["user_role"], a["redacted"]) for a in audit] == [("sup-1", "supervisor", 1),
                                                                            ("qa-1", "qa", 1)]
    assert all(a["at"] > 0 for a in audit)

    status, headers, whole = await asyncio.to_thread(_raw, ui, body["url"])
    assert status == 200 and headers["Content-Type"] == "audio/flac" and headers["Accept-Ranges"] == "bytes"
    status, headers, part = await asyncio.to_thread(_raw, ui, body["url"], {"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    status, _h, tail = await asyncio.to_thread(_raw, ui, body["url"], {"Range": "bytes=-50"})
    assert status == 206 and tail == whole[-50:]
    assert (await asyncio.to_thread(_raw, ui, body["url"], {"Range": f"bytes={len(whole)}-"}))[0] == 416
    assert (await asyncio.to_thread(_raw, ui, "/recordings/not-a-ticket"))[0] == 404

    played, rate = sf.read(io.BytesIO(whole), dtype="int16")
    assert rate == RATE and played.shape == (agent.size, 2)
    assert np.array_equal(played[:, 0], agent)  # nothing spoken there was PII
    a, b = int((9.0 - 0.25) * RATE), int((10.5 + 0.25) * RATE)
    assert np.array_equal(played[: a - 1, 1], cust[: a - 1]) and np.array_equal(played[b + 1 :, 1], cust[b + 1 :])
    hidden = played[a:b, 1].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(hidden))
    assert abs(np.argmax(spectrum) * RATE / hidden.size - 1000) < 5  # a pure 1 kHz tone, no speech
    assert not np.array_equal(played[a:b, 1], cust[a:b])


async def test_a_ticket_from_one_replica_plays_on_another_that_shares_the_secret(make_settings) -> None:
    """Behind a load balancer the player's GET reaches another UI pod than the POST that issued
    the ticket: a replica with the same CALLASSIST_UI_PLAYBACK_SECRET plays it (with the PII
    spans it looks up itself); one with another secret refuses it."""
    users = json.dumps({"users": [{"id": u, "role": ROLES[u], "token": t} for u, t in TOKENS.items()]})
    common = {"ui_port": 0, "ui_users_json": users, "ui_bridge_enabled": False, "ui_sink_enabled": False}
    apps = [UiApp(make_settings(UiSettings, **common, ui_playback_secret=secret))
            for secret in ("shared-test-secret", "shared-test-secret", "another-secret")]
    for app in apps:
        await app.start()
    try:
        issuer, peer, stranger = apps
        call_id = "it-play-replicas"
        agent, cust = _noise(12, 3), _noise(12, 4)
        store = RecordingStore(issuer.settings.recordings_path())  # one data dir: the replicas share store and files
        await asyncio.to_thread(store.write_call, call_id, {
            "agent": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", agent.tobytes())},
            "customer": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", cust.tobytes())},
        })
        await _stored_call(issuer, call_id)
        status, body = await asyncio.to_thread(http, issuer, "POST", f"/api/qa/calls/{call_id}/playback",
                                               TOKENS["qa-1"])
        assert status == 200
        status, _h, from_issuer = await asyncio.to_thread(_raw, issuer, body["url"])
        assert status == 200
        status, _h, from_peer = await asyncio.to_thread(_raw, peer, body["url"])
        assert status == 200 and from_peer == from_issuer  # the same redacted audio, tone included
        assert (await asyncio.to_thread(_raw, stranger, body["url"]))[0] == 404
        forged = body["url"].replace(call_id, "it-play-other") if call_id in body["url"] else body["url"][:-2] + "AA"
        assert (await asyncio.to_thread(_raw, peer, forged))[0] == 404
    finally:
        for app in apps:
            await app.stop()
