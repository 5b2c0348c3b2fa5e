"""Topic records: the wire contract between every callassist process.

Every record is a typed, versioned Faust ``Record`` serialised as JSON, except the
audio frame, which is bulk bytes and travels as a small JSON header plus the raw
payload (see :class:`AudioFrame`).  Every record carries ``call_id``; Kafka keys are
``call_id`` so one call's data stays ordered on one partition.

Versioning: each record has ``v`` (schema major version).  Adding an optional field
keeps ``v``; renaming/removing/changing a field's meaning bumps it, and
:func:`decode` refuses records of a newer major version with a clear error instead
of misreading them.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeVar

import faust
from faust.utils import json as faust_json

from streams.contract.wire_check import MAX_RECORD_BYTES, WireError, validate_fields

SCHEMA_VERSION = 1

CHANNELS = ("agent", "customer")
AUDIO_ENCODINGS = ("pcm16le", "mulaw")


class RecordDecodeError(ValueError):
    """A record on a topic could not be decoded (malformed, wrong type, newer schema)."""


class _Base(faust.Record, serializer="json", include_metadata=False, abstract=True):
    def to_bytes(self) -> bytes:
        # Faust's JSON encoder serialises nested records via their __json__(); strict JSON
        # out: a NaN/Infinity raises ValueError here instead of reaching a browser as invalid JSON
        return faust_json.dumps(self, allow_nan=False).encode()


# ---------------------------------------------------------------------------
# calls.events
# ---------------------------------------------------------------------------
#: CallEvent.kind values for a change of call state (besides "started"/"ended")
CALL_STATE_KINDS = ("hold", "resume", "mute", "unmute", "transfer")
#: the documented keys of CallEvent.context (docs/ui.md "Call context") and a value's size limit
CALL_CONTEXT_KEYS = ("customer_name", "customer_tier", "account_ref", "policy_ref", "ivr_intent")
CALL_CONTEXT_MAX_VALUE = 120


class CallEvent(_Base):
    """A call started or ended (topic ``calls.events``)."""

    call_id: str
    kind: str  # "started" | "ended"; call states: "hold" | "resume" | "mute" | "unmute" | "transfer" (new agent_id)
    ts: float  # epoch seconds
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""  # "zh", "en" or "" (detect)
    encoding: str = "pcm16le"
    sample_rate: int = 16000
    source: str = ""  # "ws", "twilio", "replay"
    reason: str = ""  # for "ended": "hangup", "client_disconnected", "replaced", ...
    duration: float = 0.0  # for "ended": audio seconds seen
    # what the platform/CRM knows about the caller, for the agent's panel (optional; keys in
    # docs/ui.md "Call context": customer_name, customer_tier, account_ref, policy_ref, ivr_intent)
    context: dict[str, str] = {}  # noqa: RUF012  (Faust copies defaults)
    v: int = SCHEMA_VERSION


# ---------------------------------------------------------------------------
# calls.transcripts
# ---------------------------------------------------------------------------
class Word(_Base):
    start: float
    end: float
    text: str
    probability: float = 0.0


class TranscriptSegment(_Base):
    """Partial or final text for one utterance of one channel (topic ``calls.transcripts``).

    ``segment_id`` is the idempotency key: a partial is replaced by later partials
    and finally by the final with the same ``segment_id``; a duplicate final (at-least-once
    delivery) carries the same id and must be ignored by consumers.
    """

    call_id: str
    channel: str
    segment_id: str
    is_final: bool
    start: float  # call time, seconds
    end: float
    text: str
    language: str = ""
    words: list[Word] = []  # noqa: RUF012  (Faust copies defaults)
    revision: int = 0
    produced_at: float = 0.0  # epoch seconds when this record was produced
    audio_end_at: float = 0.0  # epoch seconds at which the segment's last audio was captured
    stable_len: int = 0  # partials: leading characters of `text` confirmed by LocalAgreement (won't change)
    v: int = SCHEMA_VERSION


# ---------------------------------------------------------------------------
# calls.emotion  and  assist.emotion
# ---------------------------------------------------------------------------
class EmotionReading(_Base):
    """One analysis window of one channel (topic ``calls.emotion``)."""

    call_id: str
    channel: str
    window_id: str  # idempotency key: "{call_id}:{channel}:{n}"
    start: float
    end: float
    probs: dict[str, float]  # class -> probability (neutral, angry, sad, happy)
    arousal: float  # 0..1, probability-like "agitated" score
    state: str  # stable state after smoothing + hysteresis
    state_changed: bool = False
    voiced_ratio: float = 0.0
    speaking_rate: float = 0.0  # syllable-like onsets per second (agent hints)
    loudness_db: float = 0.0
    hints: list[str] = []  # noqa: RUF012
    produced_at: float = 0.0
    v: int = SCHEMA_VERSION


class EmotionState(_Base):
    """Per-call emotion state for the panels (topic ``assist.emotion``)."""

    call_id: str
    channel: str
    state: str
    arousal: float
    trend: str  # "rising" | "falling" | "steady"
    probs: dict[str, float] = {}  # noqa: RUF012
    at: float = 0.0  # call time of the window end
    hints: list[str] = []  # noqa: RUF012
    produced_at: float = 0.0
    v: int = SCHEMA_VERSION
    # voice fused with the customer's words (streams.assist.customer_state); "" on agent records
    customer_state: str = ""
    reasons: list[str] = []  # noqa: RUF012
    valence: float = 0.0  # -1 (many complaint/threat cues) .. 0 (none)


# ---------------------------------------------------------------------------
# assist.suggestions  and  assist.alerts
# ---------------------------------------------------------------------------
class Suggestion(_Base):
    """A suggested reply (knowledge base) or response strategy (topic ``assist.suggestions``)."""

    call_id: str
    suggestion_id: str  # idempotency key
    kind: str  # "kb" | "strategy"
    intent: str
    title: str
    text: str  # the reply the agent can use
    score: float = 0.0
    evidence: str = ""  # transcript text that triggered it
    segment_id: str = ""
    links: list[str] = []  # noqa: RUF012
    kb_version: str = ""
    language: str = ""
    produced_at: float = 0.0
    source_produced_at: float = 0.0  # produced_at of the transcript record that triggered it
    matched: list[str] = []  # noqa: RUF012  (keywords / trigger question / conditions that matched)
    why: str = ""  # why it fired, in words: matched terms / intent, confidence, emotion evidence
    provisional: bool = False  # pushed from stable partial text (never retracted: no flicker)
    evidence_end: float = 0.0  # call time at which the matched words end (the bench measures from it)
    v: int = SCHEMA_VERSION


class Alert(_Base):
    """A compliance alert (topic ``assist.alerts``)."""

    call_id: str
    alert_id: str  # idempotency key: rule id + evidence segment (or deadline)
    rule_id: str
    rule_kind: str  # "forbidden" | "required_missing" | "ordering"
    severity: str  # "low" | "medium" | "high" | "critical"
    channel: str
    message: str
    evidence: str = ""
    evidence_start: float = 0.0
    evidence_end: float = 0.0
    segment_id: str = ""
    rules_version: str = ""
    produced_at: float = 0.0
    source_produced_at: float = 0.0
    matched_phrase: str = ""  # the rule phrase that matched (evidence is what was actually said)
    match_method: str = ""  # exact | tokens | pinyin | fuzzy | absent (required phrase missing)
    match_score: float = 0.0
    category: str = ""  # rule category, e.g. mis_selling, escalation, disclosure
    status: str = "violation"  # or "check": a low-confidence match for QA to check, not a violation
    why: str = ""  # how it fired (match method, score, phrase) in words
    # raised from stable partial text; its final re-sends it under the same alert_id with
    # provisional false (confirmed) or retracted true (the final no longer contains the phrase)
    provisional: bool = False
    retracted: bool = False
    v: int = SCHEMA_VERSION


# ---------------------------------------------------------------------------
# qa.calls
# ---------------------------------------------------------------------------
class RiskReason(_Base):
    """One finding behind a call's risk score, as data (``CallSummary.risk_reasons``).

    ``text`` is the English sentence also kept in ``CallSummary.reasons`` (old readers, logs,
    CSV); a screen renders the reason from the other fields, by ``code``."""

    code: str  # "alert" | "repeated" | "agitated_share" | "agitated_end" | "arousal_peak" | "said_cue"
    text: str
    rule_id: str = ""  # alert, repeated
    severity: str = ""  # alert, repeated
    channel: str = ""  # "agent" | "customer"; "" when the finding has none
    status: str = ""  # alert: "violation" | "check"
    at: float = -1.0  # call seconds of the finding; -1: no time (a required phrase never said)
    evidence: str = ""  # alert: what was said (shortened); said_cue: the words
    value: float = 0.0  # agitated_share: share 0..1; arousal_peak: the peak; repeated: times fired
    v: int = SCHEMA_VERSION


class CallSummary(_Base):
    """A finished call, scored for QA (topic ``qa.calls``). Idempotent by ``call_id``."""

    call_id: str
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0
    duration: float = 0.0
    risk_score: float = 0.0  # 0..100
    risk_level: str = "low"
    reasons: list[str] = []  # noqa: RUF012  (the text of each of risk_reasons, strongest first)
    risk_reasons: list[RiskReason] = []  # noqa: RUF012  (the same reasons as data, same order)
    transcript: list[TranscriptSegment] = []  # noqa: RUF012  (finals only)
    alerts: list[Alert] = []  # noqa: RUF012
    suggestions: list[Suggestion] = []  # noqa: RUF012
    emotion: list[EmotionState] = []  # noqa: RUF012
    kb_version: str = ""
    rules_version: str = ""
    v: int = SCHEMA_VERSION


R = TypeVar("R", bound=_Base)


def decode(cls: type[R], data: bytes | str | dict[str, Any] | None) -> R:
    """Decode and fully validate one JSON record, raising only :class:`RecordDecodeError`.

    Every field is checked against its declared type (nested records and list items
    included), numbers must be finite and in range, strings and lists are bounded
    (:mod:`streams.contract.wire_check`), so a record that decodes cannot break a consumer later.
    """
    obj = _parse_json(cls.__name__, data)
    version = obj.get("v", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RecordDecodeError(f"{cls.__name__}: schema version {version!r:.40} is newer than {SCHEMA_VERSION}")
    try:
        values = validate_fields(cls._options.fields, cls._options.defaults, obj, _build_record, cls.__name__)
        return typing.cast(R, _build_record(cls, values))
    except RecordDecodeError:
        raise
    except (WireError, TypeError, ValueError, KeyError, RecursionError) as exc:
        raise RecordDecodeError(str(exc) if isinstance(exc, WireError) else f"{cls.__name__}: {exc}") from exc


def _reject_constant(name: str) -> NoReturn:
    raise RecordDecodeError(f"{name} is not valid JSON (numbers must be finite)")


def _parse_json(what: str, data: bytes | str | dict[str, Any] | None) -> dict[str, Any]:
    if data is None:
        raise RecordDecodeError(f"{what}: empty value (tombstone)")
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        if len(data) > MAX_RECORD_BYTES:
            raise RecordDecodeError(f"{what}: {len(data)} bytes, more than {MAX_RECORD_BYTES}")
        try:
            obj = json.loads(data, parse_constant=_reject_constant)
        except RecordDecodeError as exc:
            raise RecordDecodeError(f"{what}: {exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError, TypeError) as exc:
            raise RecordDecodeError(f"{what}: not JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    else:
        obj = data
    if not isinstance(obj, dict):
        raise RecordDecodeError(f"{what}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _build_record(cls: type, values: dict[str, Any]) -> Any:
    # nested records arrive here already checked; Faust's own init does no validation
    return cls(**values)


# ---------------------------------------------------------------------------
# calls.audio: binary framing
# ---------------------------------------------------------------------------
_AUDIO_MAGIC = b"CA"
_HEADER_LEN = struct.Struct(">H")  # header length, big-endian uint16


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One channel's audio frame (topic ``calls.audio``), 100–500 ms of audio.

    Wire format: ``b"CA"`` + uint16 header length + JSON header + raw payload.  The
    payload keeps the telephony encoding it arrived in (``mulaw`` 8 kHz or ``pcm16le``)
    so the topic carries no base64 overhead.  Idempotent by ``(call_id, channel, seq)``.
    """

    call_id: str
    channel: str  # "agent" | "customer"
    seq: int  # per call and channel, from 0, no gaps
    start: float  # call time (seconds) of the first sample
    encoding: str  # "pcm16le" | "mulaw"
    sample_rate: int
    payload: bytes
    captured_at: float = 0.0  # epoch seconds when the last sample was received by ingest
    v: int = SCHEMA_VERSION

    TOPIC_KIND: ClassVar[str] = "audio"

    @property
    def sample_count(self) -> int:
        return len(self.payload) // (2 if self.encoding == "pcm16le" else 1)

    @property
    def duration(self) -> float:
        return self.sample_count / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "v": self.v,
                "call_id": self.call_id,
                "channel": self.channel,
                "seq": self.seq,
                "start": self.start,
                "encoding": self.encoding,
                "sample_rate": self.sample_rate,
                "captured_at": self.captured_at,
            },
            separators=(",", ":"),
        ).encode()
        return _AUDIO_MAGIC + _HEADER_LEN.pack(len(header)) + header + self.payload

    @classmethod
    def from_bytes(cls, data: bytes | None) -> AudioFrame:
        """Decode one frame; every failure is a :class:`RecordDecodeError`."""
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 4 or bytes(data[:2]) != _AUDIO_MAGIC:
            raise RecordDecodeError("AudioFrame: not an audio frame (bad magic)")
        if len(data) > MAX_RECORD_BYTES:
            raise RecordDecodeError(f"AudioFrame: {len(data)} bytes, more than {MAX_RECORD_BYTES}")
        (hlen,) = _HEADER_LEN.unpack_from(data, 2)
        if len(data) < 4 + hlen:
            raise RecordDecodeError("AudioFrame: truncated header")
        h = _parse_json("AudioFrame header", bytes(data[4 : 4 + hlen]))
        version = h.get("v", SCHEMA_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RecordDecodeError(f"AudioFrame: schema version {version!r:.40} is newer than {SCHEMA_VERSION}")
        header_fields = {name: typ for name, typ in _audio_frame_fields().items() if name != "payload"}
        try:
            values = validate_fields(header_fields, _AUDIO_DEFAULTS, h, _build_record, "AudioFrame")
        except WireError as exc:
            raise RecordDecodeError(str(exc)) from None
        frame = cls(payload=bytes(data[4 + hlen :]), **values)
        frame.validate()
        return frame

    def validate(self) -> None:
        if not self.call_id:
            raise RecordDecodeError("AudioFrame: empty call_id")
        if self.channel not in CHANNELS:
            raise RecordDecodeError(f"AudioFrame: unknown channel {self.channel!r}")
        if self.encoding not in AUDIO_ENCODINGS:
            raise RecordDecodeError(f"AudioFrame: unknown encoding {self.encoding!r}")
        if not 8000 <= self.sample_rate <= 48000:
            raise RecordDecodeError(f"AudioFrame: unsupported sample rate {self.sample_rate}")
        if not self.payload:
            raise RecordDecodeError("AudioFrame: empty payload")
        if len(self.payload) > MAX_FRAME_SECONDS * self.sample_rate * 2:
            raise RecordDecodeError(f"AudioFrame: payload longer than {MAX_FRAME_SECONDS} s")
        if self.encoding == "pcm16le" and len(self.payload) % 2:
            raise RecordDecodeError("AudioFrame: odd-length PCM16 payload")
        if self.seq < 0:
            raise RecordDecodeError("AudioFrame: negative seq")


#: a frame is 100–500 ms; anything over this is not a frame of this protocol
MAX_FRAME_SECONDS = 5
_AUDIO_DEFAULTS = ("captured_at", "v")


def _audio_frame_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(AudioFrame)
    return {f.name: hints[f.name] for f in dataclasses.fields(AudioFrame)}


#: topic setting name -> record type carried on it (documentation and tests use this)
TOPIC_RECORDS: dict[str, type] = {
    "audio": AudioFrame,
    "events": CallEvent,
    "transcripts": TranscriptSegment,
    "emotion": EmotionReading,
    "suggestions": Suggestion,
    "alerts": Alert,
    "assist_emotion": EmotionState,
    "qa_calls": CallSummary,
}
