"""Conversation hints from both channels: talking over the customer, long silences."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.emotion.turns import CallTurns, TurnConfig, activity

pytestmark = pytest.mark.unit

SR = 8000


def _tone(seconds: float, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def test_activity_ignores_silence_and_faint_echo() -> None:
    y = np.concatenate([_tone(1.0), _tone(1.0, level=0.0001), _quiet(1.0)])
    mask = activity(y, SR, TurnConfig())
    assert mask.size == 30
    assert mask[:10].all() and not mask[10:].any()


def test_talking_over_needs_overlap_in_two_windows_in_a_row() -> None:
    turns = CallTurns(TurnConfig(persist=2, overlap_s=1.0))
    both = _tone(3.0)
    turns.note("customer", 0.0, both, SR)
    turns.note("agent", 0.0, both, SR)
    assert turns.agent_hints() == []  # one window is not enough
    turns.note("customer", 1.0, both, SR)
    turns.note("agent", 1.0, both, SR)
    assert turns.agent_hints() == ["talking_over"]


def test_taking_turns_is_not_talking_over() -> None:
    turns = CallTurns(TurnConfig(persist=1, overlap_s=1.0))
    for k in range(5):
        # customer speaks the first 1.5 s of each window, the agent the rest: 0 overlap
        turns.note("customer", float(k), np.concatenate([_tone(1.5), _quiet(1.5)]), SR)
        turns.note("agent", float(k), np.concatenate([_quiet(1.5), _tone(1.5)]), SR)
        assert turns.agent_hints() == []


def test_overlap_is_measured_on_the_call_clock() -> None:
    turns = CallTurns(TurnConfig(persist=1, overlap_s=1.0))
    turns.note("customer", 0.0, np.concatenate([_tone(1.0), _quiet(2.0)]), SR)
    # the agent's window starts 2 s later: its speech at 2-3 s does not meet the customer's at 0-1 s
    turns.note("agent", 2.0, _tone(3.0), SR)
    assert turns.agent_hints() == []


def test_long_silence_shows_once_on_the_next_agent_reading() -> None:
    turns = CallTurns(TurnConfig(silence_s=8.0))
    turns.note("customer", 0.0, _tone(3.0), SR)
    turns.note("agent", 5.0, _quiet(3.0), SR)
    turns.note("agent", 11.5, _tone(3.0), SR)  # speech again 8.5 s after the last
    assert turns.agent_hints() == ["long_silence"]
    assert turns.agent_hints() == []
    turns.note("customer", 15.0, _tone(3.0), SR)  # a short pause is nothing
    assert "long_silence" not in turns.agent_hints()
