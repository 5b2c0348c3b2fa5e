"""The strict JSON codec of the wire records: one encoder, one decoder, one error.

Records are plain frozen dataclasses (:mod:`streams.contract.records`); this module knows
them only through :mod:`dataclasses`, so it works for any record type, including ones
added later.  Decoding checks every field against its declared type (nested records and
list items included, ``Literal`` vocabularies enforced) through
:mod:`streams.contract.wire_check`, so a record that decodes cannot break a consumer later.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, NoReturn, TypeVar

from streams.contract.vocab import SCHEMA_VERSION
from streams.contract.wire_check import MAX_RECORD_BYTES, WireError, record_fields, validate_fields  # noqa: F401 (record_fields: re-exported)

R = TypeVar("R")


class RecordDecodeError(ValueError):
    """A record on a topic could not be decoded (malformed, wrong type, newer schema)."""


def build(cls: type[R], values: dict[str, Any]) -> R:
    """A record from values already checked (unknown keys dropped)."""
    fields, _ = record_fields(cls)
    return cls(**{k: v for k, v in values.items() if k in fields})


def to_plain(record: Any) -> dict[str, Any]:
    """The record as JSON-ready plain data (nested records become dicts, tuples lists)."""
    return dataclasses.asdict(record)


def encode(record: Any) -> bytes:
    """Strict JSON: a NaN/Infinity raises ValueError here instead of reaching a browser as invalid JSON."""
    return json.dumps(to_plain(record), allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()


def decode(cls: type[R], data: bytes | str | dict[str, Any] | None) -> R:
    """Decode and fully validate one JSON record, raising only :class:`RecordDecodeError`.

    Every field is checked against its declared type (nested records and list items
    included), numbers must be finite and in range, strings and lists are bounded
    (:mod:`streams.contract.wire_check`), so a record that decodes cannot break a consumer later.
    """
    obj = parse_json(cls.__name__, data)
    check_version(cls.__name__, obj)
    try:
        fields, defaults = record_fields(cls)
        return build(cls, validate_fields(fields, defaults, obj, _build_nested, cls.__name__))
    except RecordDecodeError:
        raise
    except (WireError, TypeError, ValueError, KeyError, RecursionError) as exc:
        raise RecordDecodeError(str(exc) if isinstance(exc, WireError) else f"{cls.__name__}: {exc}") from exc


def check_version(what: str, obj: dict[str, Any]) -> None:
    version = obj.get("v", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RecordDecodeError(f"{what}: schema version {version!r:.40} is newer than {SCHEMA_VERSION}")


def _build_nested(cls: type, values: dict[str, Any]) -> Any:
    return build(cls, values)


def _reject_constant(name: str) -> NoReturn:
    raise RecordDecodeError(f"{name} is not valid JSON (numbers must be finite)")


def parse_json(what: str, data: bytes | str | dict[str, Any] | None) -> dict[str, Any]:
    """One JSON object, bounded in size, with NaN/Infinity refused."""
    if data is None:
        raise RecordDecodeError(f"{what}: empty value (tombstone)")
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        if len(data) > MAX_RECORD_BYTES:
            raise RecordDecodeError(f"{what}: {len(data)} bytes, more than {MAX_RECORD_BYTES}")
        try:
            obj = json.loads(data if not isinstance(data, memoryview) else bytes(data), parse_constant=_reject_constant)
        except RecordDecodeError as exc:
            raise RecordDecodeError(f"{what}: {exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError, TypeError) as exc:
            raise RecordDecodeError(f"{what}: not JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    else:
        obj = data
    if not isinstance(obj, dict):
        raise RecordDecodeError(f"{what}: expected a JSON object, got {type(obj).__name__}")
    return obj
