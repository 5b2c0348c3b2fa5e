"""Topic records: the wire contract between every callassist process.

Every record is a frozen, typed dataclass serialised as strict JSON by
:mod:`streams.contract.codec` (no Faust, no framework: any process, tool or test can
import the contract alone).  The audio frame is bulk bytes and has its own framing
(:mod:`streams.contract.audio`).  Every record carries ``call_id``; Kafka keys are
``call_id`` so one call's data stays ordered on one partition.

Versioning: each record has ``v`` (schema major version).  Adding an optional field
keeps ``v``; renaming/removing/changing a field's meaning bumps it, and
:func:`streams.contract.codec.decode` refuses records of a newer major version with a
clear error instead of misreading them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streams.contract import codec
from streams.contract.vocab import SCHEMA_VERSION, Channel, Encoding, RuleKind, Severity

T = TypeVar("T")


class Record:
    """Base of every JSON record: strict bytes out, a shallow dict of its fields.

    Each record is ``@dataclass(frozen=True, slots=True, kw_only=True)``: immutable (a record in
    flight cannot be changed under a consumer), and keyword-only, so fields can be added in any
    order without breaking a caller."""

    __slots__ = ()

    def to_bytes(self) -> bytes:
        return codec.encode(self)

    def asdict(self) -> dict[str, Any]:
        """Field name -> value, nested records kept as records (use codec.to_plain for plain JSON data)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def replace(self: T, **changes: Any) -> T:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


# ---------------------------------------------------------------------------
# calls.events
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(Record):
    """A call started or ended (topic ``calls.events``)."""

    call_id: str
    kind: str  # "started" | "ended"; call states: "hold" | "resume" | "mute" | "unmute" | "transfer" (new agent_id)
    ts: float  # epoch seconds
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""  # "zh", "en" or "" (detect)
    encoding: Encoding = "pcm16le"
    sample_rate: int = 16000
    source: str = ""  # "ws", "twilio", "replay"
    reason: str = ""  # for "ended": "hangup", "client_disconnected", "replaced", ...
    duration: float = 0.0  # for "ended": audio seconds seen
    # what the platform/CRM knows about the caller, for the agent's panel (optional; keys in
    # docs/ui.md "Call context": customer_name, customer_tier, account_ref, policy_ref, ivr_intent)
    context: dict[str, str] = field(default_factory=dict)
    v: int = SCHEMA_VERSION


# ---------------------------------------------------------------------------
# calls.transcripts
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Word(Record):
    start: float
    end: float
    text: str
    probability: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptSegment(Record):
    """Partial or final text for one utterance of one channel (topic ``calls.transcripts``).

    ``segment_id`` is the idempotency key: a partial is replaced by later partials
    and finally by the final with the same ``segment_id``; a duplicate final (at-least-once
    delivery) carries the same id and must be ignored by consumers.
    """

    call_id: str
    channel: Channel
    segment_id: str
    is_final: bool
    start: float  # call time, seconds
    end: float
    text: str
    language: str = ""
    words: list[Word] = field(default_factory=list)
    revision: int = 0
    produced_at: float = 0.0  # epoch seconds when this record was produced
    audio_end_at: float = 0.0  # epoch seconds at which the segment's last audio was captured
    stable_len: int = 0  # partials: leading characters of `text` confirmed by LocalAgreement (won't change)
    v: int = SCHEMA_VERSION


# ---------------------------------------------------------------------------
# calls.emotion  and  assist.emotion
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class EmotionReading(Record):
    """One analysis window of one channel (topic ``calls.emotion``)."""

    call_id: str
    channel: Channel
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
    hints: list[str] = field(default_factory=list)
    produced_at: float = 0.0
    v: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class EmotionState(Record):
    """Per-call emotion state for the panels (topic ``assist.emotion``)."""

    call_id: str
    channel: Channel
    state: str
    arousal: float
    trend: str  # "rising" | "falling" | "steady"
    probs: dict[str, float] = field(default_factory=dict)
    at: float = 0.0  # call time of the window end
    hints: list[str] = field(default_factory=list)
    produced_at: float = 0.0
    v: int = SCHEMA_VERSION
    # voice fused with the customer's words (streams.assist.customer_state); "" on agent records
    customer_state: str = ""
    reasons: list[str] = field(default_factory=list)
    valence: float = 0.0  # -1 (many complaint/threat cues) .. 0 (none)


# ---------------------------------------------------------------------------
# assist.suggestions  and  assist.alerts
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion(Record):
    """A suggested reply (knowledge base) or response strategy (topic ``assist.suggestions``)."""

    call_id: str
    suggestion_id: str  # idempotency key
    kind: str  # "kb" | "strategy"
    intent: str
    # which KB entry (kind "kb") or strategy (kind "strategy") it is: several entries can share an
    # intent, and the KB owners' report rates each entry
    entry_id: str = ""
    title: str
    text: str  # the reply the agent can use
    score: float = 0.0
    evidence: str = ""  # transcript text that triggered it
    segment_id: str = ""
    links: list[str] = field(default_factory=list)
    kb_version: str = ""
    language: str = ""
    produced_at: float = 0.0
    source_produced_at: float = 0.0  # produced_at of the transcript record that triggered it
    matched: list[str] = field(default_factory=list)  # keywords / trigger question / conditions that matched)
    why: str = ""  # why it fired, in words: matched terms / intent, confidence, emotion evidence
    provisional: bool = False  # pushed from stable partial text (never retracted: no flicker)
    evidence_end: float = 0.0  # call time at which the matched words end (the bench measures from it)
    v: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Record):
    """A compliance alert (topic ``assist.alerts``)."""

    call_id: str
    alert_id: str  # idempotency key: rule id + evidence segment (or deadline)
    rule_id: str
    rule_kind: RuleKind
    severity: Severity
    channel: Channel
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
@dataclass(frozen=True, slots=True, kw_only=True)
class RiskReason(Record):
    """One finding behind a call's risk score, as data (``CallSummary.risk_reasons``).

    ``text`` is the English sentence also kept in ``CallSummary.reasons`` (old readers, logs,
    CSV); a screen renders the reason from the other fields, by ``code``."""

    code: str  # "alert" | "repeated" | "agitated_share" | "agitated_end" | "arousal_peak" | "said_cue"
    text: str
    rule_id: str = ""  # alert, repeated
    severity: str = ""  # alert, repeated
    channel: str = ""  # "agent" | "customer"; "" when the finding has none (so not a Channel)
    status: str = ""  # alert: "violation" | "check"
    at: float = -1.0  # call seconds of the finding; -1: no time (a required phrase never said)
    evidence: str = ""  # alert: what was said (shortened); said_cue: the words
    value: float = 0.0  # agitated_share: share 0..1; arousal_peak: the peak; repeated: times fired
    v: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSummary(Record):
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
    reasons: list[str] = field(default_factory=list)  # the text of each of risk_reasons, strongest first
    risk_reasons: list[RiskReason] = field(default_factory=list)  # the same reasons as data, same order
    transcript: list[TranscriptSegment] = field(default_factory=list)  # finals only
    alerts: list[Alert] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    emotion: list[EmotionState] = field(default_factory=list)
    kb_version: str = ""
    rules_version: str = ""
    v: int = SCHEMA_VERSION
