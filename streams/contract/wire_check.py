"""Strict validation of decoded wire records, driven by each record's declared fields.

:func:`streams.contract.codec.decode` and :meth:`streams.contract.audio.AudioFrame.from_bytes` call
:func:`validate_fields` on the parsed JSON object.  The checks come from the field's
declared type (``str``, ``int``, ``float``, ``bool``, ``list[X]``, ``dict[str, X]``,
a nested record, ``X | None``, ``Any``) plus the small tables below (ranges, allowed
values, sizes) keyed by *field name*, so a field someone adds to a record later is
validated without touching this module: its type is enforced, numbers must be finite,
strings and containers are bounded, and a known name (``*_at``, ``start``, ``score``…)
gets its range.  Every failure raises :class:`WireError`; the caller turns it into its
one decode error.

Why so strict: the records used to be Faust records, built lazily with no JSON type checks, so a
``"words": "abc"`` or ``NaN`` used to travel until it blew up in a consumer far from the
record (the UI bridge crash-looped on one such transcript).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from typing import Any, Literal, Union

#: the largest record accepted (a QA summary of a long call is the biggest; Kafka's default is 1 MiB)
MAX_RECORD_BYTES = 8 * 1024 * 1024
#: JSON nesting allowed inside free-form (``Any``) values; declared fields bound it by their type
MAX_DEPTH = 16
MAX_STR = 8192  # characters, any string field without its own limit
MAX_LIST = 10_000  # items, any list without its own limit
MAX_DICT = 256  # entries, any dict without its own limit
MAX_INT = 2**53  # JSON integers beyond this lose precision in browsers
MAX_EPOCH = 1e10  # seconds; year 2286. Call times are far smaller.

# per field name (applies at any nesting level). Names not listed get the defaults above.
STR_LIMITS: dict[str, int] = {
    "call_id": 256, "segment_id": 512, "window_id": 512, "suggestion_id": 512, "alert_id": 512,
    "rule_id": 256, "agent_id": 256, "customer_id": 256, "queue": 256, "language": 16, "channel": 16,
    "kind": 64, "state": 64, "trend": 32, "severity": 32, "encoding": 16, "source": 64, "reason": 256,
    "text": 4000, "evidence": 4000, "entry_id": 256,
    "RiskReason.code": 32, "RiskReason.channel": 16, "RiskReason.status": 16,
}
LIST_LIMITS: dict[str, int] = {
    "words": 2000, "hints": 64, "links": 64, "matched": 256, "reasons": 256, "risk_reasons": 256,
}

_TIME_RANGE = (0.0, MAX_EPOCH)
RANGES: dict[str, tuple[float, float]] = {
    **{name: _TIME_RANGE for name in (
        "ts", "start", "end", "at", "duration", "produced_at", "audio_end_at", "source_produced_at",
        "started_at", "ended_at", "evidence_start", "evidence_end", "captured_at",
    )},
    "probability": (0.0, 1.0), "arousal": (0.0, 1.0), "valence": (-1.0, 1.0), "voiced_ratio": (0.0, 1.0),
    "probs": (0.0, 1.0),  # each value of the class -> probability dict
    "risk_score": (0.0, 100.0), "speaking_rate": (0.0, 100.0), "loudness_db": (-200.0, 200.0),
    "seq": (0, MAX_INT), "revision": (0, MAX_INT), "stable_len": (0, MAX_INT), "v": (0, MAX_INT),
    "RiskReason.at": (-1.0, MAX_EPOCH),  # -1: a finding without a time
}
ALLOWED: dict[str, tuple[Any, ...]] = {
    "channel": ("agent", "customer"),
    "encoding": ("pcm16le", "mulaw"),
    "sample_rate": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    # not the codes: a reader must not drop a whole summary for a reason code newer than itself
    "RiskReason.channel": ("", "agent", "customer"),
}
# A "Record.field" key in the tables above is for that record's field only, where the field
# means something else than the plain name does elsewhere (it wins over the plain name).
_QUALIFIED = frozenset(k for table in (STR_LIMITS, LIST_LIMITS, RANGES, ALLOWED) for k in table if "." in k)
NON_EMPTY = frozenset({"call_id"})
# lone surrogates cannot be encoded as UTF-8 (the websocket send, the store); NUL is refused by PostgreSQL
_UNENCODABLE = re.compile("[\ud800-\udfff\x00]")


class WireError(ValueError):
    """One field of a record breaks the wire contract (the message names the path)."""


def is_record_type(typ: Any) -> bool:
    return isinstance(typ, type) and dataclasses.is_dataclass(typ)


def record_fields(typ: type) -> tuple[dict[str, Any], frozenset[str]]:
    """(field name -> resolved type, names that have a default) of a record dataclass (cached)."""
    return _record_fields(typ)


@functools.cache
def _record_fields(typ: type) -> tuple[dict[str, Any], frozenset[str]]:
    hints = typing.get_type_hints(typ)
    fields = [f for f in dataclasses.fields(typ) if f.init]
    defaults = frozenset(f.name for f in fields
                         if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)
    return {f.name: hints[f.name] for f in fields}, defaults


def validate_fields(
    fields: typing.Mapping[str, Any], defaults: typing.Collection[str], obj: dict[str, Any],
    build: typing.Callable[[type, dict[str, Any]], Any], path: str, record: str = "",
) -> dict[str, Any]:
    """Check ``obj`` against ``fields`` (name -> type); return the known, checked values.

    ``defaults``: names that may be absent.  ``build(cls, values)`` makes a nested record.
    ``record``: the record's name, for "Record.field" entries of the tables (default: ``path``,
    which is the record's name at the top level).
    Unknown keys are dropped (an older reader of a newer minor version).
    """
    record = record or path
    missing = [f for f in fields if f not in obj and f not in defaults]
    if missing:
        raise WireError(f"{path}: missing field(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for name, typ in fields.items():
        if name in obj:
            key = f"{record}.{name}"
            out[name] = _check(typ, obj[name], key if key in _QUALIFIED else name, f"{path}.{name}", build, 0)
    return out


def _check(typ: Any, value: Any, name: str, path: str, build: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"{path}: nested deeper than {MAX_DEPTH}")
    origin = typing.get_origin(typ)
    if origin in (Union, types.UnionType):
        options = typing.get_args(typ)
        if value is None and type(None) in options:
            return None
        last: WireError | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(option, value, name, path, build, depth)
            except WireError as exc:
                last = exc
        raise last or WireError(f"{path}: null not allowed")
    if typ is Any or typ is object:
        return _check_any(value, name, path, depth)
    if origin is list or typ is list:
        (item,) = typing.get_args(typ) or (Any,)
        _expect(value, list, "a list", path)
        limit = LIST_LIMITS.get(name, MAX_LIST)
        if len(value) > limit:
            raise WireError(f"{path}: {len(value)} items, more than {limit}")
        return [_check(item, v, name, f"{path}[{i}]", build, depth + 1) for i, v in enumerate(value)]
    if origin is dict or typ is dict:
        key_t, val_t = typing.get_args(typ) or (str, Any)
        _expect(value, dict, "an object", path)
        if len(value) > MAX_DICT:
            raise WireError(f"{path}: {len(value)} entries, more than {MAX_DICT}")
        return {_check(key_t, k, "", f"{path} key", build, depth + 1): _check(val_t, v, name, f"{path}[{k!r:.40}]",
                                                                              build, depth + 1)
                for k, v in value.items()}
    if origin is Literal:
        allowed = typing.get_args(typ)
        if isinstance(value, bool) or value not in allowed:
            raise WireError(f"{path}: unknown {name.replace('_', ' ')} {value!r:.40} (one of {', '.join(map(str, allowed))})")
        return value
    if is_record_type(typ):
        _expect(value, dict, "an object", path)
        fields, defaults = record_fields(typ)
        return build(typ, validate_fields(fields, defaults, value, build, path, typ.__name__))
    if typ is bool:
        _expect(value, bool, "true/false", path)
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireError(f"{path}: expected an integer, got {_kind(value)}")
        return _in_range(value, name, path)
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError(f"{path}: expected a number, got {_kind(value)}")
        return _in_range(value, name, path)
    if typ is str:
        _expect(value, str, "a string", path)
        limit = STR_LIMITS.get(name, MAX_STR)
        if len(value) > limit:
            raise WireError(f"{path}: {len(value)} characters, more than {limit}")
        if name in NON_EMPTY and not value:
            raise WireError(f"{path}: empty {name}")
        if _UNENCODABLE.search(value):
            raise WireError(f"{path}: NUL or a lone surrogate in a string")
        return _allowed(value, name, path)
    # a type this module does not know: at least keep it JSON-sane and bounded
    return _check_any(value, name, path, depth)


def _check_any(value: Any, name: str, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"{path}: nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _in_range(value, name, path)
    if isinstance(value, str):
        return _check(str, value, name, path, None, depth)
    if isinstance(value, list):
        if len(value) > LIST_LIMITS.get(name, MAX_LIST):
            raise WireError(f"{path}: too many items")
        return [_check_any(v, name, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if len(value) > MAX_DICT:
            raise WireError(f"{path}: too many entries")
        return {_check(str, k, "", f"{path} key", None, depth + 1): _check_any(v, name, f"{path}.{k:.40}", depth + 1)
                for k, v in value.items()}
    raise WireError(f"{path}: not a JSON value ({_kind(value)})")


def _in_range(value: int | float, name: str, path: str) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(f"{path}: not a finite number")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise WireError(f"{path}: integer out of range")
    if isinstance(value, float) and abs(value) > 1e15:
        raise WireError(f"{path}: number out of range")
    bounds = RANGES.get(name)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise WireError(f"{path}: {value!r} outside [{bounds[0]}, {bounds[1]}]")
    return _allowed(value, name, path)


def _allowed(value: Any, name: str, path: str) -> Any:
    allowed = ALLOWED.get(name)
    if allowed is not None and value not in allowed:
        raise WireError(f"{path}: unknown {name.replace('_', ' ')} {value!r:.40} (one of {', '.join(map(str, allowed))})")
    return value


def _expect(value: Any, typ: type, what: str, path: str) -> None:
    if not isinstance(value, typ):
        raise WireError(f"{path}: expected {what}, got {_kind(value)}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
