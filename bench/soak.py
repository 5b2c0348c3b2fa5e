"""``callassist bench soak``: hours of call time through the components' state, faster than real time.

What it drives (in this process, no broker, no models): the real per-call state machines of
three components, fed with real material, on a simulated clock:

- ingest: :class:`~pipeline.ingest.protocol.IngestSession` (protocol + framer) fed the real
  sample call's audio (``pipeline/samples``, 8 kHz µ-law), looped;
- streams: :class:`~streams.assist.assistant.Assistant` with the bundled KB and rules and the per-call
  :class:`~streams.assist.callstate.CallState`; the worker round-trips the state through its Faust
  table after every record, this run once per simulated hour (and times one round trip of the
  largest state at the end, untraced: what every record of a call that long costs the worker);
- ui: :class:`~assist_ui.live_state.LiveState` (partials, finals, alerts, suggestions, emotion).

Transcript text is real: the sample call's reference transcript (bench/data) and the scripted
dialogues of tests/data/dialogues (with alerts); emotion windows every 2 s on the customer
channel.  Not covered: the ASR and emotion models (far slower than real time on CPU), Kafka
clients and the websocket servers.

Two scenarios: ``long_call`` (one call lasting ``hours``), ``shift`` (``lines`` concurrent
lines taking back-to-back calls for ``hours``; ended calls leave each component's state as
the workers evict them).  Memory is attributed to a component by the source file that
allocated it (tracemalloc), sampled every simulated hour after a garbage collection.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "bench" / "data" / "auto_repairs_40.reference.json"
DIALOGUES = REPO / "tests" / "data" / "dialogues"
COMPONENT_FILES = {"ingest": "*/pipeline/ingest/*", "streams": "*/streams/*", "ui": "*/assist_ui/*"}
CHUNK_MS = 200


@dataclass
class SoakPoint:
    hour: float
    kb: dict[str, float]  # component -> KiB allocated by its code and still alive
    streams_state_kb: float  # the serialised CallState(s) held (the Faust table value size)
    table_write_ms: float = float("nan")  # one table round trip of the largest state (measured at the end)
    streams_fields_kb: dict[str, float] = field(default_factory=dict)  # JSON KiB per CallState field
    drained: bool = False  # taken after every call ended and the retention passed (nothing should be held)
    calls_held: dict[str, int] = field(default_factory=dict)
    segments: int = 0
    frames: int = 0


def _turns() -> list[tuple[str, str]]:
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    agent, customer = ref["channels"]["agent"], ref["channels"]["customer"]
    out = []
    for i in range(max(len(agent), len(customer))):  # the reference keeps turns per channel: alternate
        out += [("agent", agent[i])] if i < len(agent) else []
        out += [("customer", customer[i])] if i < len(customer) else []
    return out


def _dialogues() -> list[list[dict[str, Any]]]:
    out = []
    for p in sorted(DIALOGUES.glob("*.jsonl")):
        lines = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        out.append([x for x in lines if "text" in x])  # (emotion lines are replaced by our own windows)
    return out


def _audio_chunks() -> list[dict[str, bytes]]:
    from pipeline.demo import SAMPLE_CALL
    from pipeline.ingest.files import CallAudio

    return list(CallAudio([str(p) for p in SAMPLE_CALL]).chunks(CHUNK_MS))


class _Call:
    """One call in every component: an ingest session, a streams CallState, a LiveState entry."""

    def __init__(self, sim: Soak, call_id: str, t0: float) -> None:
        from pipeline.ingest.messages import CHANNEL_IDS
        from pipeline.ingest.protocol import IngestSession

        self.sim, self.call_id, self.t0 = sim, call_id, t0
        self.session = IngestSession(registry=sim.registry, authenticated=True, source="replay",
                                     clock=lambda: sim.now)
        self._ch = {name: bytes([i]) for i, name in CHANNEL_IDS.items()}
        self.session.receive_text(json.dumps({
            "type": "open", "call_id": call_id, "agent_id": "agent-1", "source": "replay", "language": "en",
            "format": {"encoding": "mulaw", "sample_rate": 8000, "channels": ["agent", "customer"]}}))
        self.raw: dict[str, Any] | None = None
        self.n = self.w = 0
        sim.streams_event(self, "started")
        sim.ui("event", {"call_id": call_id, "kind": "started", "agent_id": "agent-1", "ts": sim.now})

    def audio(self, seconds: float) -> None:
        for _ in range(int(seconds * 1000 / CHUNK_MS)):
            chunk = next(self.sim.audio)
            for ch, payload in chunk.items():
                outs = self.session.receive_bytes(self._ch[ch] + payload)
                self.sim.frames += sum(1 for o in outs if type(o).__name__ == "AudioFrame")

    def segment(self, channel: str, start: float, end: float, text: str, lang: str) -> None:
        self.n += 1
        sid = f"{self.call_id}:{channel}:{self.n}"
        self.sim.streams_segment(self, sid, channel, start, end, text, lang)
        base = {"call_id": self.call_id, "segment_id": sid, "channel": channel, "start": start, "end": end,
                "language": lang, "produced_at": self.sim.now}
        words = text.split()
        for rev, cut in enumerate((len(words) // 3, 2 * len(words) // 3)):  # two partials, then the final
            if cut:
                self.sim.ui("segment", {**base, "is_final": False, "revision": rev, "text": " ".join(words[:cut])})
        self.sim.ui("segment", {**base, "is_final": True, "revision": 2, "text": text})
        self.sim.segments += 1

    def emotion(self, start: float) -> None:
        self.w += 1
        arousal = 0.2 + 0.6 * ((self.w // 15) % 2)  # calm and agitated spells
        self.sim.streams_emotion(self, f"{self.call_id}:customer:{self.w}", start, arousal)

    def end(self) -> None:
        self.session.receive_text('{"type": "close", "reason": "hangup"}')
        self.sim.streams_event(self, "ended")
        self.sim.ui("event", {"call_id": self.call_id, "kind": "ended", "ts": self.sim.now})


class Soak:
    def __init__(self, ui_max_segments: int = 4000, ended_retention_s: float = 600.0,
                 remember_calls: int = 100_000) -> None:
        from assist_ui.live_state import LiveState
        from pipeline.ingest.admission import CallRegistry
        from streams.assist.assistant import Assistant

        self.assistant = Assistant.from_files()
        self.registry = CallRegistry(remember=remember_calls)
        self.live = LiveState(max_segments=ui_max_segments, ended_retention_s=ended_retention_s)
        self.retention = ended_retention_s
        self.states: dict[str, Any] = {}  # call_id -> CallState (the Faust table's values)
        self.ended_at: dict[str, float] = {}
        self.now = 1.7e9
        self.segments = self.frames = 0
        chunks = _audio_chunks()
        self.audio: Iterator[dict[str, bytes]] = (chunks[i % len(chunks)] for i in range(10**12))
        self.turns, self.dialogues = _turns(), _dialogues()

    # -- components ------------------------------------------------------------------------
    def _state(self, call: _Call) -> Any:
        from streams.assist.callstate import CallState

        if call.call_id not in self.states:
            self.states[call.call_id] = CallState(call.call_id)
        return self.states[call.call_id]

    def streams_event(self, call: _Call, kind: str) -> None:
        st = self._state(call)
        out = self.assistant.on_event(st, kind, ts=self.now, duration=self.now - call.t0, meta={"agent_id": "agent-1"})
        self._publish(call, out)
        if kind == "ended":
            self.ended_at[call.call_id] = self.now

    def streams_segment(self, call: _Call, sid: str, channel: str, start: float, end: float, text: str,
                        lang: str) -> None:
        from streams.matching.segment import Segment

        st = self._state(call)
        out = self.assistant.on_segment(st, Segment(sid, channel, start, end, text, lang, [], self.now))
        self._publish(call, out)

    def streams_emotion(self, call: _Call, window_id: str, start: float, arousal: float) -> None:
        from streams.assist.callstate import EmotionPoint

        st = self._state(call)
        point = EmotionPoint(window_id, "customer", start, start + 2.0, "angry" if arousal > 0.5 else "neutral",
                             arousal, {"neutral": 1 - arousal, "angry": arousal}, [])
        out = self.assistant.on_emotion(st, point, source_produced_at=self.now)
        self._publish(call, out)

    def _publish(self, call: _Call, out: Any) -> None:
        for a in out.alerts:
            self.ui("alert", {**a, "produced_at": self.now})
        for s in out.suggestions:
            self.ui("suggestion", {**s, "produced_at": self.now})
        if out.emotion is not None:
            self.ui("emotion", {**out.emotion, "produced_at": self.now})

    def ui(self, kind: str, rec: dict[str, Any]) -> None:
        self.live.apply(kind, rec, self.now)

    def evict(self) -> None:
        """What the workers do on their timers: ended calls leave after the retention."""
        for cid, at in list(self.ended_at.items()):
            if self.now - at > self.retention:
                del self.ended_at[cid], self.states[cid]
        self.live.evict(self.now)

    # -- scenarios ---------------------------------------------------------------------------
    def play(self, call: _Call, script: list[tuple[str, str, str]], until: float | None = None) -> float:
        """Speak ``script`` ((channel, text, lang)) on ``call`` from call time t; returns the call time at the end."""
        t = self.now - call.t0
        for channel, text, lang in script:
            dur = max(1.0, len(text) / 15.0)  # ~15 characters per second of speech
            call.audio(dur + 1.0)
            if channel == "customer":
                for k in range(int(dur // 2) + 1):
                    call.emotion(t + 2.0 * k)
            self.now += dur + 1.0  # the utterance, then a second of silence
            call.segment(channel, t, t + dur, text, lang)
            t += dur + 1.0
            if until is not None and self.now >= until:
                break
        return t

    def dialogue_script(self, i: int) -> list[tuple[str, str, str]]:
        d = self.dialogues[i % len(self.dialogues)]
        return [(x["channel"], x["text"], x.get("language", "en")) for x in d]

    def reference_script(self) -> list[tuple[str, str, str]]:
        return [(ch, text, "en") for ch, text in self.turns]

    def point(self, hour: float) -> SoakPoint:
        from streams.assist.callstate import CallState

        # the table round trip, as the worker does it per record: state -> dict -> JSON -> state
        sizes: list[int] = []
        fields_kb: dict[str, float] = {}
        for cid, st in list(self.states.items()):
            d = st.to_dict()
            for k, v in d.items():
                fields_kb[k] = fields_kb.get(k, 0.0) + len(json.dumps(v)) / 1024
            raw = json.dumps(d)
            sizes.append(len(raw))
            self.states[cid] = CallState.from_dict(json.loads(raw))
        gc.collect()
        snap = tracemalloc.take_snapshot()
        kb = {}
        for name, pattern in COMPONENT_FILES.items():
            stats = snap.filter_traces([tracemalloc.Filter(True, pattern)]).statistics("filename")
            kb[name] = sum(s.size for s in stats) / 1024
        return SoakPoint(hour, kb, sum(sizes) / 1024, calls_held={"streams": len(self.states), "ui": len(self.live)},
                         segments=self.segments, frames=self.frames, streams_fields_kb=fields_kb)

    def round_trip_ms(self) -> float:
        """One table round trip of the largest call state (call it untraced)."""
        from streams.assist.callstate import CallState

        if not self.states:
            return float("nan")
        st = max(self.states.values(), key=lambda x: len(x.segments) + len(x.seen_windows))
        t = time.perf_counter()
        CallState.from_dict(json.loads(json.dumps(st.to_dict())))
        return (time.perf_counter() - t) * 1000


def long_call(hours: float = 8.0, ui_max_segments: int = 4000,
              on_point: Callable[[SoakPoint], None] | None = None) -> list[SoakPoint]:
    """One call lasting ``hours``: the sample call's conversation on repeat, each round followed
    by a scripted dialogue (with alerts)."""
    sim = Soak(ui_max_segments=ui_max_segments)  # KB, rules and the sample audio load before tracing
    tracemalloc.start()
    try:
        call = _Call(sim, "soak-long", sim.now)
        t_end, next_hour, i = sim.now + hours * 3600, sim.now + 3600, 0
        points = []
        while sim.now < t_end:
            sim.play(call, sim.reference_script() + sim.dialogue_script(i), until=t_end)
            i += 1
            while sim.now >= next_hour:
                points.append(sim.point((next_hour - call.t0) / 3600))
                if on_point:
                    on_point(points[-1])
                next_hour += 3600
    finally:
        tracemalloc.stop()
    if points:
        points[-1].table_write_ms = sim.round_trip_ms()
    call.end()
    return points


def shift(hours: float = 8.0, lines: int = 2, on_point: Callable[[SoakPoint], None] | None = None,
          ended_retention_s: float = 600.0, remember_calls: int = 100_000) -> list[SoakPoint]:
    """``lines`` agents taking back-to-back calls (one scripted dialogue each) for ``hours``;
    the lines take turns utterance by utterance."""
    sim = Soak(ended_retention_s=ended_retention_s, remember_calls=remember_calls)
    tracemalloc.start()
    try:
        t0 = sim.now
        t_end, next_hour, n = t0 + hours * 3600, t0 + 3600, 0
        active: list[tuple[_Call, list[tuple[str, str, str]]]] = []
        points = []
        while sim.now < t_end:
            while len(active) < lines:
                n += 1
                active.append((_Call(sim, f"soak-shift-{n}", sim.now), list(sim.dialogue_script(n))))
            for call, script in list(active):
                sim.play(call, [script.pop(0)])
                if not script:
                    call.end()
                    active.remove((call, script))
            sim.evict()
            while sim.now >= next_hour:
                points.append(sim.point((next_hour - t0) / 3600))
                if on_point:
                    on_point(points[-1])
                next_hour += 3600
        # the shift ends: hang up, let the retention pass; what is still held now was never released
        for call, _ in active:
            call.end()
        sim.now += ended_retention_s + 1.0
        sim.evict()
        points.append(sim.point((sim.now - t0) / 3600))
        points[-1].drained = True
    finally:
        tracemalloc.stop()
    return points


def render(name: str, points: list[SoakPoint]) -> str:
    head = ("| hour | ingest KiB | streams KiB | ui KiB | streams table KiB | table write ms "
            "| calls held (streams/ui) | segments | audio frames |\n|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    rows = [
        f"| {'drained' if p.drained else f'{p.hour:.0f}'} | {p.kb['ingest']:.0f} | {p.kb['streams']:.0f} | {p.kb['ui']:.0f} | {p.streams_state_kb:.0f} "
        f"| {'–' if p.table_write_ms != p.table_write_ms else f'{p.table_write_ms:.1f}'} "
        f"| {p.calls_held.get('streams', 0)}/{p.calls_held.get('ui', 0)} | {p.segments} | {p.frames} |"
        for p in points
    ]
    out = f"### {name}\n\n{head}\n" + "\n".join(rows) + "\n"
    if len(points) >= 2:  # which parts of the per-call state grew, first hour to last
        first, last = points[0].streams_fields_kb, points[-1].streams_fields_kb
        grew = sorted(((last[k] - first.get(k, 0.0), k) for k in last), reverse=True)
        out += "\nstreams table growth by CallState field, hour 1 → last (KiB): " + ", ".join(
            f"{k} {d:+.0f}" for d, k in grew if abs(d) >= 1) + "\n"
    return out
