"""Soak: 8 hours of call time, simulated faster than real time; memory must stay flat.

What runs (bench/soak.py): the real per-call state of ingest (protocol session and
framer, fed the real sample call's audio), streams (Assistant + CallState with the bundled KB
and rules) and the UI (LiveState), with real transcript text, on a simulated clock, in this
process.  Not covered: ASR and emotion models, Kafka clients, websocket servers (the other
fault tests run those as real processes).  Memory is what each component's code allocated and
still holds after a GC (tracemalloc), once per simulated hour.

Bounds that 8 hours would not reach at their production values are lowered (UI segments,
alerts and curve per live call; streams segments and emotion points per call; ingest's memory
of ended call ids), so "flat" means "held at its bound", which is what production reaches later.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import assist_ui.live_state as live_state
import streams.assist.callstate as callstate
from bench import soak as bench_soak

pytestmark = pytest.mark.integration

HOURS = 8.0
WARM_UP = 3  # hours until the lowered bounds are reached
#: fields of a call's streams state bounded by the deduplication memory and intent history caps
ID_MEMORY_STATE = ("intents", "seen_segments", "seen_windows")


def slope_kib_per_hour(points: list[bench_soak.SoakPoint], value) -> float:  # type: ignore[no-untyped-def]
    """Least-squares slope of value(point) over the points after the warm-up."""
    pts = [p for p in points if p.hour >= WARM_UP]
    xs, ys = [p.hour for p in pts], [value(p) for p in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


@pytest.fixture(scope="module")
def long_call() -> Iterator[list[bench_soak.SoakPoint]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(live_state, "_MAX_ITEMS", 50)
        mp.setattr(live_state, "_MAX_CURVE", 200)
        mp.setattr(callstate, "MAX_SEGMENTS", 300)
        mp.setattr(callstate, "MAX_EMOTION_POINTS", 300)
        mp.setattr(callstate, "MAX_SEEN_IDS", 300)
        mp.setattr(callstate, "MAX_INTENTS", 50)
        yield bench_soak.long_call(HOURS, ui_max_segments=300)


def test_one_eight_hour_call_holds_ingest_ui_and_bounded_streams_state_flat(long_call) -> None:  # type: ignore[no-untyped-def]
    points = long_call
    assert len(points) == HOURS and points[-1].segments > 3000 and points[-1].frames > 250_000
    # ingest: 8 h of audio through the session and framer, nothing accumulates
    assert max(p.kb["ingest"] for p in points) < 32
    # UI: the live call's view is bounded (segments, alerts, suggestions, curve)
    assert abs(slope_kib_per_hour(points, lambda p: p.kb["ui"])) < 8, [p.kb["ui"] for p in points]
    # streams: every part of the call's state other than the id memory (checked below) and
    # the alerts (the QA record lists every alert of the call, by design) is held at its bound
    bounded = [k for k in points[-1].streams_fields_kb if k not in (*ID_MEMORY_STATE, "alerts")]
    for k in bounded:
        assert abs(slope_kib_per_hour(points, lambda p, k=k: p.streams_fields_kb.get(k, 0.0))) < 2, k


def test_one_eight_hour_call_streams_dedup_memory_is_bounded(long_call) -> None:  # type: ignore[no-untyped-def]
    # the ids remembered for deduplication and the intent history are held at their bounds
    for k in ID_MEMORY_STATE:
        assert abs(slope_kib_per_hour(long_call, lambda p, k=k: p.streams_fields_kb.get(k, 0.0))) < 2, k


def test_an_eight_hour_shift_of_calls_keeps_every_component_flat_and_releases_every_call() -> None:
    # two lines taking back-to-back calls; ended calls leave every component after the retention
    points = bench_soak.shift(HOURS, lines=2, remember_calls=50)
    *hours, drained = points
    assert len(hours) == HOURS and hours[-1].segments > 6000 and drained.drained
    assert max(max(p.calls_held.values()) for p in hours) <= 30  # ended calls are evicted
    for name in ("ingest", "streams", "ui"):
        # the calls held at each hour differ a little (dialogue lengths): a loose slope bound here,
        # the sharp check is the drained point below
        slope = slope_kib_per_hour(hours, lambda p, name=name: p.kb[name])
        assert abs(slope) < 8, (name, [round(p.kb[name]) for p in hours])
    # once the last call ended and the retention passed, no call is held; what is left is what
    # saturates early (caches: the interpreter's attribute cache, matcher vocabulary), so it
    # must not depend on how many calls went through: compare with a one-hour shift
    assert drained.calls_held == {"streams": 0, "ui": 0}
    *_, short = bench_soak.shift(1.0, lines=2, remember_calls=50)
    calls = hours[-1].segments / (short.segments or 1)  # ~8x the calls of the short shift
    for name in ("ingest", "streams", "ui"):
        # a leak of 100 bytes per call would leave ~30 KiB more after 8 hours than after one
        assert drained.kb[name] - short.kb[name] < 16, (name, drained.kb, short.kb, calls)
