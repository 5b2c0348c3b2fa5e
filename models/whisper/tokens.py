"""Whisper tokens -> text at UTF-8 character boundaries (pure functions).

Whisper's tokenizer is byte-level BPE: one Chinese character (3 bytes in UTF-8) is often
spread over two or three tokens, and the model can also emit byte tokens that never form a
character (measured on CASIA ``liuchanhg_angry_201``: ``就是下`` then ``E9 B1`` repeated:
the first two bytes of 雨/飞-like characters, never completed).  Decoding such tokens one by
one, or cutting words between them, prints U+FFFD.  Here tokens are grouped into *units*
that begin and end on a character boundary of the whole byte stream, and bytes that form no
valid character are dropped, so no U+FFFD can come out, and word timings are kept by
merging the aligner's words until they end on such a boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

REPLACEMENT = "\ufffd"


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's ``bytes_to_unicode`` (the byte-level alphabet of Whisper's BPE)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def token_bytes(token_strings: Sequence[str]) -> list[bytes]:
    """Raw bytes of BPE token strings (``tokenizer.id_to_token``)."""
    dec = _byte_decoder()
    return [bytes(dec[c] for c in s if c in dec) for s in token_strings]


def _char_len(lead: int) -> int:
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 1  # a stray continuation byte or an invalid lead: one invalid byte


def boundaries(data: bytes) -> set[int]:
    """Byte offsets where a character (or one invalid byte) starts, plus the end.

    A valid character is a whole element; any byte that does not start a complete valid
    character is an element of its own (and is dropped when decoding)."""
    out = {0}
    p = 0
    while p < len(data):
        n = _char_len(data[p])
        if n > 1:
            try:
                data[p : p + n].decode("utf-8")
            except UnicodeDecodeError:
                n = 1
        p += n
        out.add(p)
    return out


def clean_decode(data: bytes) -> str:
    """Valid characters only: bytes forming no character are dropped, never U+FFFD."""
    return data.decode("utf-8", errors="ignore").replace(REPLACEMENT, "")


def group_at_boundaries(chunks: Sequence[bytes], group_sizes: Sequence[int]) -> list[tuple[int, int, str]]:
    """Merge consecutive groups of chunks until each ends on a character boundary.

    ``chunks`` are token bytes in order; ``group_sizes`` how many tokens each group (word)
    has, summing to ``len(chunks)``.  Returns ``(first_group, last_group, text)`` for each
    merged run, texts cleaned with :func:`clean_decode`; runs whose text is empty (only
    invalid bytes) are left out."""
    if sum(group_sizes) != len(chunks):
        raise ValueError("group sizes do not cover the tokens")
    data = b"".join(chunks)
    cuts = boundaries(data)
    out: list[tuple[int, int, str]] = []
    offset = 0
    run_start_group = 0
    run_start_byte = 0
    tok = 0
    for g, size in enumerate(group_sizes):
        offset += sum(len(c) for c in chunks[tok : tok + size])
        tok += size
        if offset in cuts or g == len(group_sizes) - 1:
            text = clean_decode(data[run_start_byte:offset])
            if text:
                out.append((run_start_group, g, text))
            run_start_group, run_start_byte = g + 1, offset
    return out
