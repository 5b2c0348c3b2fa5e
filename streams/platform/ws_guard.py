"""A websockets server connection that answers an HTTP request carrying a body.

websockets' HTTP parser accepts no request body: on ``Content-Length: N`` (N > 0) or
``Transfer-Encoding`` it drops the connection without a word, so a client that POSTs a
body waits for nothing (red-team #18).  This connection looks at the request head before
websockets does and answers such a request with ``413`` (body) / ``501`` (transfer
coding) and a hint, then closes.  Everything else goes to websockets unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from websockets.asyncio.server import ServerConnection

_MAX_HEAD = 16 * 1024  # longer heads are websockets' to refuse (431)
_LENGTH = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$")
_CODING = re.compile(rb"(?im)^transfer-encoding[ \t]*:")


def _refusal(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def refusal_for(head: bytes) -> bytes | None:
    """The response for a request head that websockets would drop silently, else None."""
    if _CODING.search(head):
        return _refusal("501 Not Implemented", "transfer codings are not supported\n")
    if any(value not in (b"0", b"") for value in _LENGTH.findall(head)):
        return _refusal("413 Content Too Large", "request bodies are not accepted; send parameters in the query\n")
    return None


class BodyRefusingConnection(ServerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = bytearray()
        self._head_checked = False

    def data_received(self, data: bytes) -> None:
        if not self._head_checked:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end >= 0 or len(self._head) > _MAX_HEAD:
                self._head_checked = True
                refusal = refusal_for(bytes(self._head[: end if end >= 0 else _MAX_HEAD]))
                self._head = bytearray()
                if refusal is not None:
                    self.transport.write(refusal)
                    self.transport.close()
                    return
        super().data_received(data)
