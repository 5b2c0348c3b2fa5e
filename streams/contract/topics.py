"""Which record travels on which topic (by topic setting name; documentation and tests use this)."""

from __future__ import annotations

from streams.contract.audio import AudioFrame
from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionReading,
    EmotionState,
    Suggestion,
    TranscriptSegment,
)

#: topic setting name -> record type carried on it
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
