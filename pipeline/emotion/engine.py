"""Emotion analysis of many calls' audio frames: the synchronous core of the worker.

Holds per call/channel state (resampler, windower, per-caller baseline, smoother, agent
hints), skips duplicate frames by (call_id, channel, seq), and turns frames into
:class:`EmotionReading` records.  No Kafka and no asyncio here: the worker calls
:meth:`EmotionEngine.process` in an executor thread, the offline ``score`` command calls
it directly, so both produce identical records.  Memory per channel is bounded (one
window of samples plus fixed-size statistics) and the number of calls is capped.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

from models.emotion import features as F
from models.emotion.baseline import SpeakerBaseline
from models.emotion.model import SIGNALS, EmotionModel
from pipeline.emotion.tracker import AgentHints, HintConfig, StateConfig, StateTracker, Window, Windower
from pipeline.emotion.turns import CallTurns, TurnConfig
from streams.contract.audio import AudioFrame
from streams.contract.records import EmotionReading
from streams.contract.vocab import Channel
from streams.platform.audio_codec import StreamResampler, decode_payload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    # the caller's own baseline replaces population statistics only after this many calm
    # windows (an agitated opening teaches it nothing: see _window)
    trust_windows: int = 8
    # The panel enters "agitated" when the calibrated p(agitated) is more likely than not
    # (not at the model's threshold, which balances recall on acted clips where a quarter are
    # angry: a call is mostly calm, and a false "agitated" triggers the de-escalation strategy).
    enter_level: float = 0.5
    exit_level: float = 0.3
    # a window joins the caller's baseline only when its population score is below this
    baseline_gate: float = 0.3
    idle_timeout_s: float = 120.0  # drop a call's state when no audio came for this long
    end_grace_s: float = 5.0  # after a call's 'ended' event, wait this long for late audio
    max_calls: int = 5000  # hard cap: the least recently active call is dropped beyond it
    state: StateConfig = field(default_factory=StateConfig)
    hints: HintConfig = field(default_factory=HintConfig)
    turns: TurnConfig = field(default_factory=TurnConfig)


@dataclass
class EngineStats:
    frames: int = 0
    duplicates: int = 0
    bad_frames: int = 0
    windows_voiced: int = 0
    windows_silent: int = 0
    readings: int = 0
    calls_dropped: int = 0
    feature_seconds: float = 0.0  # CPU time spent in features + model
    audio_seconds: float = 0.0


class _Channel:
    def __init__(self, engine: EmotionEngine, frame: AudioFrame) -> None:
        self.rate = frame.sample_rate
        self.resampler = StreamResampler(frame.sample_rate, F.SAMPLE_RATE)
        self.windower = Windower(F.SAMPLE_RATE, F.WINDOW_S, F.HOP_S)
        self.baseline: SpeakerBaseline = engine.model.new_baseline()
        self.tracker = StateTracker(engine.state_cfg)
        self.hints = AgentHints(engine.cfg.hints) if frame.channel == "agent" else None
        self.next_seq = 0
        self.resampled_pos = 0  # samples out of the resampler (its delay is compensated below)


class _Call:
    def __init__(self, turns: TurnConfig) -> None:
        self.channels: dict[str, _Channel] = {}
        self.turns = CallTurns(turns)
        self.last_seen = 0.0
        self.ended_at: float | None = None


class EmotionEngine:
    def __init__(
        self, model: EmotionModel, cfg: EngineConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        if not model.loaded:
            raise RuntimeError("EmotionEngine needs a loaded EmotionModel (call model.load())")
        self.model = model
        self.cfg = cfg or EngineConfig()
        self.state_cfg = replace(self.cfg.state, enter=self.cfg.enter_level, exit=self.cfg.exit_level)
        self.clock = clock
        self.calls: OrderedDict[str, _Call] = OrderedDict()
        # 'ended' can be read before the call's last audio (different topics): remember it;
        # and calls flushed after their end, so late redelivered frames do not restart them
        self._ended_early: OrderedDict[str, float] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.stats = EngineStats()

    # -- frames -> readings ------------------------------------------------------------
    def process(self, frames: list[AudioFrame]) -> list[EmotionReading]:
        out: list[EmotionReading] = []
        now = self.clock()
        for frame in frames:
            out += self._frame(frame, now)
        return out

    def _frame(self, frame: AudioFrame, now: float) -> list[EmotionReading]:
        call = self.calls.get(frame.call_id)
        if call is None:
            if frame.call_id in self._finished:
                self.stats.duplicates += 1  # late copy of a call that ended and was flushed
                return []
            call = self.calls[frame.call_id] = _Call(self.cfg.turns)
            call.ended_at = self._ended_early.pop(frame.call_id, None)
            self._cap()
        self.calls.move_to_end(frame.call_id)
        call.last_seen = now
        ch = call.channels.get(frame.channel)
        if ch is not None and frame.seq < ch.next_seq:
            self.stats.duplicates += 1  # at-least-once redelivery
            return []
        try:
            samples = decode_payload(frame.payload, frame.encoding)
        except ValueError as exc:
            self.stats.bad_frames += 1
            log.warning("bad audio frame %s/%s seq %d: %s", frame.call_id, frame.channel, frame.seq, exc)
            return []
        if ch is None or ch.rate != frame.sample_rate:
            ch = call.channels[frame.channel] = _Channel(self, frame)
        ch.next_seq = frame.seq + 1
        self.stats.frames += 1
        self.stats.audio_seconds += frame.duration
        y = ch.resampler.push(samples)
        # the stream resampler lags by a few ms: place output by the samples it has given,
        # anchored at the first frame's call time, and re-anchor only on real gaps
        start = frame.start if ch.windower.pos == 0 else None
        if ch.windower.pos > 0 and frame.start - ch.windower.time > 0.25:
            start = frame.start
        windows = ch.windower.push(y, start)
        return [r for w in windows if (r := self._window(frame.call_id, frame.channel, ch, w, call.turns)) is not None]

    def _window(self, call_id: str, channel: str, ch: _Channel, w: Window, turns: CallTurns) -> EmotionReading | None:
        t0 = time.process_time()
        turns.note(channel, w.start, w.samples, F.SAMPLE_RATE)
        wf = F.extract(w.samples, F.SAMPLE_RATE)
        if wf.vector is None:
            self.stats.windows_silent += 1
            self.stats.feature_seconds += time.process_time() - t0
            return None  # silence / noise: no emotion claim
        probs = self._score(ch.baseline, wf.vector)
        self.stats.feature_seconds += time.process_time() - t0
        self.stats.windows_voiced += 1
        upd = ch.tracker.update(float(probs[0]), float(probs[1]))
        hints = ch.hints.update(wf.speaking_rate, wf.loudness_db, wf.f0_std_st) + turns.agent_hints() if ch.hints else []
        self.stats.readings += 1
        return EmotionReading(
            call_id=call_id,
            channel=cast(Channel, channel),  # the frame's channel, checked on decode
            window_id=f"{call_id}:{channel}:{w.index}",
            start=round(w.start, 3),
            end=round(w.end, 3),
            probs={c: round(float(p), 4) for c, p in zip(SIGNALS, probs, strict=True)},
            arousal=round(upd.arousal, 4),
            state=upd.state,
            state_changed=upd.changed,
            voiced_ratio=round(wf.voiced_ratio, 3),
            speaking_rate=round(wf.speaking_rate, 2),
            loudness_db=round(wf.loudness_db, 1),
            hints=hints,
            produced_at=time.time(),
        )

    def _score(self, baseline: SpeakerBaseline, x: np.ndarray) -> np.ndarray:
        """(arousal, agitated) of one window, robust to a caller who is upset from the start.

        The window is always scored against population statistics; it joins the caller's
        baseline only when that score says not agitated, so an angry opening never becomes
        the caller's "normal".  Until ``trust_windows`` calm windows
        are in, the population score is the answer (the model is trained on both kinds).
        """
        m = self.model
        p_pop = m.predict(baseline.normalize_population(x))[0]
        if p_pop[1] < self.cfg.baseline_gate:
            baseline.update(x)
        if baseline.n < self.cfg.trust_windows:
            return p_pop
        return m.predict(baseline.normalize(x))[0]

    # -- call lifecycle ----------------------------------------------------------------
    def end_call(self, call_id: str) -> None:
        """A CallEvent 'ended': the state goes once no audio came for ``end_grace_s``."""
        call = self.calls.get(call_id)
        if call is not None:
            if call.ended_at is None:
                call.ended_at = self.clock()
        elif call_id not in self._finished:
            _remember(self._ended_early, call_id, self.clock(), self.cfg.max_calls)

    def flush_call(self, call_id: str) -> list[EmotionReading]:
        """Drop a call's state now, scoring its last partial windows (files, ends)."""
        call = self.calls.pop(call_id, None)
        out: list[EmotionReading] = []
        if call is None:
            return out
        for name, ch in call.channels.items():
            tail = ch.resampler.push(np.zeros(0, dtype=np.float32), last=True)
            windows = ch.windower.push(tail) if tail.size else []
            windows += ch.windower.flush()
            out += [r for w in windows if (r := self._window(call_id, name, ch, w, call.turns)) is not None]
        return out

    def housekeeping(self) -> list[EmotionReading]:
        """Flush ended calls after their grace period and idle calls after the timeout."""
        now = self.clock()
        out: list[EmotionReading] = []
        for cid, c in list(self.calls.items()):
            ended = c.ended_at is not None and now - max(c.ended_at, c.last_seen) >= self.cfg.end_grace_s
            if ended or now - c.last_seen >= self.cfg.idle_timeout_s:
                out += self.flush_call(cid)
                self.stats.calls_dropped += 1
                if ended:
                    _remember(self._finished, cid, None, 4 * self.cfg.max_calls)
        # an 'ended' whose audio never came is forgotten after the idle timeout
        while self._ended_early and now - next(iter(self._ended_early.values())) >= self.cfg.idle_timeout_s:
            self._ended_early.popitem(last=False)
        return out

    def _cap(self) -> None:
        while len(self.calls) > self.cfg.max_calls:
            cid, _ = self.calls.popitem(last=False)
            self.stats.calls_dropped += 1
            log.warning("more than %d active calls: dropped the state of %s", self.cfg.max_calls, cid)


def _remember(d: OrderedDict, key: str, value: object, limit: int) -> None:
    """Insert into a bounded insertion-ordered dict (oldest entries go first)."""
    d[key] = value
    d.move_to_end(key)
    while len(d) > limit:
        d.popitem(last=False)
