"""Secrets never reach a log line (#18 item 7), with the bypasses the red team used."""

from __future__ import annotations

import io
import json
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.frames import Frame, Opcode

from assist_ui import server as ui_server
from pipeline.ingest import server as ingest_server
from streams.platform.log_scrub import SecretScrubFilter, scrub

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-0123456789abcdef-TOKEN"


@pytest.mark.parametrize("line", [
    f"< Authorization: Bearer {SECRET}",
    f"< authorization: {SECRET}",
    f"< Cookie: session={SECRET}",
    f"GET /ws?token={SECRET} HTTP/1.1",
    f"GET /ingest?call=1&token={SECRET}",
    f'{{"op":"auth","token":"{SECRET}"}}',
    f'{{"op":"auth","\\u0074oken":"{SECRET}"}}',  # JSON-escaped key: still authenticates
    f'{{"op":"auth","\\\\u0074\\\\u006fken":"{SECRET}"}}',  # as repr() doubles the backslash
    f"{{'op': 'auth', 'token': '{SECRET}'}}",
    f'{{"op":"auth","token":"{SECRET[:12]}',  # cut off by elision: no closing quote
    f'{{"password": "{SECRET}"}}',
])
def test_scrub_removes_secrets(line: str) -> None:
    assert SECRET[:12] not in scrub(line)


def test_ordinary_text_is_kept() -> None:
    assert scrub("call c1 ended (hangup) after 12.0 s") == "call c1 ended (hangup) after 12.0 s"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, msg, args, None)


def test_frames_are_never_logged_even_when_elided() -> None:
    payload = json.dumps({"op": "auth", "pad": "x" * 200, "token": SECRET}).encode()
    frame = Frame(Opcode.TEXT, payload)
    assert SECRET not in str(frame) and "..." in str(frame)  # websockets elides the key, not the tail
    rec = _record("< %s", frame)
    SecretScrubFilter().filter(rec)
    text = rec.getMessage()
    assert "payload not logged" in text and "x" * 20 not in text and SECRET[-6:] not in text


async def test_websocket_debug_logs_of_both_servers_hold_no_secret() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    loggers = [ui_server._ws_logger, ingest_server._ws_logger]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    try:
        for lg in loggers:
            async with serve(echo, "127.0.0.1", 0, logger=lg) as srv:
                port = srv.sockets[0].getsockname()[1]
                async with connect(f"ws://127.0.0.1:{port}/ws?token={SECRET}",
                                   additional_headers={"Authorization": f"Bearer {SECRET}"}) as ws:
                    await ws.send('{"op":"auth","\\u0074oken":"' + SECRET + '","pad":"' + "y" * 300 + '"}')
                    await ws.recv()
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
            lg.setLevel(logging.NOTSET)
    out = stream.getvalue()
    assert "Authorization" in out and "GET /ws" in out  # the lines are there ...
    assert SECRET[:12] not in out and SECRET[-8:] not in out  # ... the secret is not


def test_root_handlers_scrub_records_from_any_logger() -> None:
    from streams.platform.log_scrub import install_on_handlers

    root = logging.getLogger("tests.scrub.root")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        install_on_handlers(root)
        logging.getLogger("tests.scrub.root.child.deep").warning("connect %s", f"wss://x/ingest?token={SECRET}")
    finally:
        root.removeHandler(handler)
    assert "token=[redacted]" in stream.getvalue() and SECRET[:12] not in stream.getvalue()
