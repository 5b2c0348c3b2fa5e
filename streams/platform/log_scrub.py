"""One log filter that keeps secrets out of every log line, at every level.

websockets logs each request header (``< Authorization: Bearer …``), the request path
(``?token=…``) and every frame (``< TEXT '{"op":"auth","token":"…"}'``) at DEBUG.  Pattern
scrubbing alone was bypassed twice: a JSON-escaped key (``"\\u0074oken"`` still
authenticates) and websockets' elision of long frames (``{"op":"auth","tok...cdef"}``
loses the key but keeps part of the secret).  So:

- frame payloads are never logged: a frame argument is replaced by its opcode and length
  (frames also carry what callers said, which is PII);
- ``\\uXXXX`` escapes are decoded before matching, so an escaped key is seen as its name;
- header values of ``Authorization``/``Proxy-Authorization``/``Cookie``/``X-Api-Key`` are
  dropped whole; ``token=``/``password=``/``secret=``/``api_key=`` query values and JSON or
  repr values of keys with those names are replaced, even when the value is cut off.

:func:`install` puts the filter on the given loggers and on websockets' own loggers;
filters on a logger see only records logged *at* that logger, hence the explicit list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_SECRET_NAMES = r"(?:access_?token|refresh_?token|token|password|passwd|secret|api_?key)"
_UNICODE_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # a header line or "header: value" anywhere: the whole value goes
    (re.compile(r"(?i)\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key)(\s*[:=]\s*)[^\r\n]*"),
     r"\1\2" + REDACTED),
    # JSON or Python repr key: "token": "…" / 'token': '…', closing quote optional (elided frames)
    (re.compile(r"(?i)([\"']" + _SECRET_NAMES + r"[\"']\s*:\s*)(?:\"[^\"]*\"?|'[^']*'?|[^,}\s]+)"),
     r"\1" + REDACTED),
    # query strings and key=value text
    (re.compile(r"(?i)(\b" + _SECRET_NAMES + r"=)[^&\s'\"]*"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)\S+"), r"\1" + REDACTED),
]


def scrub(text: str) -> str:
    """``text`` with every secret it holds replaced by ``[redacted]``."""
    if "\\" in text:
        text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _is_frame(arg: object) -> bool:
    return type(arg).__name__ == "Frame" and hasattr(arg, "opcode") and hasattr(arg, "data")


def _frame_summary(frame: object) -> str:
    opcode = getattr(getattr(frame, "opcode", None), "name", "FRAME")
    data = getattr(frame, "data", b"")
    return f"{opcode} [payload not logged, {len(data)} bytes]"


class SecretScrubFilter(logging.Filter):
    """Rewrites a record so its message holds no secret and no frame payload."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(_is_frame(a) for a in args):
            record.args = tuple(_frame_summary(a) if _is_frame(a) else a for a in args)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log its template only
            message, record.args = str(record.msg), None
        clean = scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # exception messages can quote the request line (with ?token=) too
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


WEBSOCKETS_LOGGERS = ("websockets", "websockets.server", "websockets.client", "websockets.protocol")
_FILTER = SecretScrubFilter()


def install(loggers: Iterable[logging.Logger | str] = ()) -> SecretScrubFilter:
    """Put the one scrubbing filter on ``loggers`` and on websockets' loggers (idempotent)."""
    for item in (*WEBSOCKETS_LOGGERS, *loggers):
        logger = logging.getLogger(item) if isinstance(item, str) else item
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER


def install_on_handlers(logger: logging.Logger | None = None) -> None:
    """Put the filter on ``logger``'s handlers (the root's by default): every record that
    propagates there, from any logger at any level, is scrubbed before it is written."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
