"""Pure parts of ``callassist bench``: latency observations → summaries → the results table.

No I/O, no Kafka, no websockets here (unit-tested).  An *observation* is one thing that
reached the screen (or the bench's Kafka reader): a partial or final transcript, an alert or
a suggestion, with its latency from the event it reports (the last word's capture time, or
the triggering transcript record).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

KINDS = ("partial", "final", "alert", "suggestion")
WORD_KINDS = ("word", "word_final")  # per word: first text on screen / its final on screen
# per phrase said in the call's audio: its end (capture time) → the alert / suggestion on screen
PHRASE_KINDS = ("phrase_alert", "phrase_suggestion")


@dataclass(frozen=True, slots=True)
class Observation:
    kind: str  # one of KINDS
    call_id: str
    key: str  # segment_id (partial: + revision), alert_id, suggestion_id: duplicates are counted once
    latency_s: float


class Dedup:
    """Keeps the first observation per (kind, key): at-least-once redelivery is not a new update."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self.items: list[Observation] = []
        self.duplicates = 0

    def add(self, obs: Observation) -> bool:
        k = (obs.kind, obs.key)
        if k in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(k)
        self.items.append(obs)
        return True


@dataclass(frozen=True, slots=True)
class ShownUpdate:
    """One transcript update (partial or final) that reached the screen, with its record's timing."""

    call_id: str
    segment_id: str
    is_final: bool
    end: float  # call time up to which this update's text covers the audio
    audio_end_at: float  # capture time (epoch s) of the audio at ``end``
    word_ends: tuple[float, ...]  # call time of each word's end (finals; empty without word timings)
    shown_at: float  # receive time (epoch s)


def word_observations(updates: Iterable[ShownUpdate]) -> list[Observation]:
    """Per word of every final: latency from the capture of the word's end to (``word``) the first
    update of its segment whose text covers it, and (``word_final``) the final itself.

    Per-update latency (last word only) flatters long utterances: the first words of a 15 s turn
    waited for the whole turn.  This is the design's "audio word end → text on the agent's
    screen", for every word.  A final without word timings counts as one word ending at its end.
    """
    by_segment: dict[str, list[ShownUpdate]] = {}
    for u in updates:
        by_segment.setdefault(u.segment_id, []).append(u)
    out: list[Observation] = []
    for seg_id, ups in by_segment.items():
        finals = [u for u in ups if u.is_final and u.audio_end_at > 0]
        if not finals:
            continue
        final = min(finals, key=lambda u: u.shown_at)  # a redelivered final is not a new display
        for i, w in enumerate(final.word_ends or (final.end,)):
            captured = final.audio_end_at - (final.end - w)
            first = min((u.shown_at for u in ups if u.end >= w - 0.01), default=final.shown_at)
            key = f"{seg_id}#w{i}"
            out.append(Observation("word", final.call_id, key, first - captured))
            out.append(Observation("word_final", final.call_id, key, final.shown_at - captured))
    return out


@dataclass(frozen=True, slots=True)
class PhraseHit:
    """An alert or suggestion that reached the screen, with the call time its matched words end."""

    kind: str  # "alert" | "suggestion"
    call_id: str
    key: str  # alert_id / suggestion_id: a provisional alert and its confirmation count once (the first)
    phrase_end: float  # call time (Alert.evidence_end / Suggestion.evidence_end)
    shown_at: float  # receive time (epoch s)


def capture_offsets(updates: Iterable[ShownUpdate]) -> dict[str, float]:
    """Per call: capture time − call time (both channels are captured in real time from one start),
    the median over the call's transcript records that carry a capture time."""
    by_call: dict[str, list[float]] = {}
    for u in updates:
        if u.audio_end_at > 0:
            by_call.setdefault(u.call_id, []).append(u.audio_end_at - u.end)
    return {c: percentile(v, 50) for c, v in by_call.items()}


def phrase_observations(hits: Iterable[PhraseHit], offsets: dict[str, float]) -> list[Observation]:
    """Phrase end (capture time) → on screen, for the calls whose audio capture times are known
    (the probe call's scripted finals have none and are left out)."""
    out = []
    for h in hits:
        off = offsets.get(h.call_id)
        if off is None or h.phrase_end <= 0:
            continue
        out.append(Observation(f"phrase_{h.kind}", h.call_id, h.key, h.shown_at - (h.phrase_end + off)))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method); NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class LatencySummary:
    n: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencySummary:
        return cls(len(values), percentile(values, 50), percentile(values, 95), max(values) if values else math.nan)


@dataclass
class ProcessUsage:
    """CPU and memory of one component over one load level."""

    component: str
    cpu_cores_avg: float  # CPU seconds / wall seconds (1.0 = one core busy all the time)
    cpu_cores_peak: float  # highest 1 s sample
    rss_peak_mb: float
    rss_end_mb: float


@dataclass
class LevelResult:
    calls: int
    audio_s_per_call: float
    wall_s: float
    latency: dict[str, LatencySummary]
    usage: list[ProcessUsage] = field(default_factory=list)
    max_replay_late_s: float = 0.0  # worst lateness of the replay clients behind real time
    expected_calls_seen: int = 0  # calls that showed at least one final
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    # every phrase → alert / suggestion measured (the p95 of a few phrases is its slowest one or two:
    # the JSON lists them, so which phrase was late and why can be looked at)
    phrases: list[Observation] = field(default_factory=list)

    def sustained(self, word_p95_target: float, alert_p95_target: float) -> tuple[bool, str]:
        """Real time at this load: every call transcribed, word→screen p95 and alert p95 within
        the targets, and the replay clients kept pace. Returns (ok, why not)."""
        why = []
        if self.expected_calls_seen < self.calls:
            why.append(f"{self.calls - self.expected_calls_seen} call(s) without a final")
        # every transcript update (partial or final) shows text up to its last word: under
        # overload the CPU worker stops decoding partials and finals fall behind, so judging on
        # partials alone would look better the worse it gets
        text = screen_latency(self.latency)
        if text is None or text.n == 0:
            why.append("no transcript")
        elif text.p95 > word_p95_target:
            why.append(f"word→screen p95 {text.p95:.2f} s > {word_p95_target:g} s")
        alert = self.latency.get("alert")
        if alert is not None and alert.n and alert.p95 > alert_p95_target:
            why.append(f"alert p95 {alert.p95 * 1000:.0f} ms > {alert_p95_target * 1000:.0f} ms")
        if self.max_replay_late_s > 1.0:
            why.append(f"replay fell {self.max_replay_late_s:.1f} s behind real time")
        return (not why, "; ".join(why))


def screen_latency(latency: dict[str, LatencySummary]) -> LatencySummary | None:
    """word→screen: per word when the transcripts carry word timings, else per update."""
    word = latency.get("word")
    return word if word is not None and word.n else latency.get("text")


def summarise(observations: Iterable[Observation]) -> dict[str, LatencySummary]:
    """Per kind, plus ``text``: partials and finals together (every update of the transcript)."""
    by_kind: dict[str, list[float]] = {k: [] for k in (*KINDS, *WORD_KINDS, *PHRASE_KINDS)}
    for o in observations:
        by_kind.setdefault(o.kind, []).append(o.latency_s)
    by_kind["text"] = by_kind["partial"] + by_kind["final"]
    return {k: LatencySummary.of(v) for k, v in by_kind.items()}


def max_sustained(levels: Sequence[LevelResult], word_p95_target: float, alert_p95_target: float) -> int:
    """Highest load level that held, below which every level also held (0 if the first failed)."""
    best = 0
    for lv in sorted(levels, key=lambda x: x.calls):
        if not lv.sustained(word_p95_target, alert_p95_target)[0]:
            break
        best = lv.calls
    return best


def parse_levels(text: str) -> list[int]:
    """``"1,2,4"`` → [1, 2, 4]; raises ValueError with a clear message."""
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--calls expects comma-separated positive integers, got {text!r}") from None
    if not levels or any(n < 1 for n in levels):
        raise ValueError(f"--calls expects comma-separated positive integers, got {text!r}")
    return sorted(set(levels))


# -- rendering -------------------------------------------------------------------------------
_NONE = LatencySummary(0, math.nan, math.nan, math.nan)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 3)


def levels_json(levels: Sequence[LevelResult], word_p95_target: float, alert_p95_target: float) -> dict:
    """Every figure per load level, for ``callassist bench --json PATH`` (NaN → null)."""
    rows = []
    for lv in levels:
        la = lv.latency
        screen = screen_latency(la) or la.get("text", _NONE)
        ok, why = lv.sustained(word_p95_target, alert_p95_target)
        row: dict = {"calls": lv.calls, "audio_s_per_call": round(lv.audio_s_per_call, 1), "wall_s": round(lv.wall_s, 1)}
        row |= {"word_to_screen_p50_s": _num(screen.p50), "word_to_screen_p95_s": _num(screen.p95)}
        for name, kind in (("word_to_final", "word_final"), ("phrase_to_alert", "phrase_alert"),
                           ("phrase_to_suggestion", "phrase_suggestion"), ("partial_update", "partial"),
                           ("final_update", "final"), ("transcript_to_alert", "alert"),
                           ("transcript_to_suggestion", "suggestion")):
            summ = la.get(kind, _NONE)
            row |= {f"{name}_p50_s": _num(summ.p50), f"{name}_p95_s": _num(summ.p95), f"{name}_n": summ.n}
        row |= {
            "realtime": ok, "not_realtime_because": why, "max_replay_late_s": round(lv.max_replay_late_s, 2),
            "calls_with_final": lv.expected_calls_seen, "duplicates": lv.duplicates,
            "cpu_cores": {u.component: round(u.cpu_cores_avg, 2) for u in lv.usage},
            "rss_peak_mb": {u.component: round(u.rss_peak_mb) for u in lv.usage},
            "notes": list(lv.notes),
            # slowest first: kind, call, the alert / suggestion id (rule or KB entry + segment), seconds
            "phrases": [{"kind": o.kind.removeprefix("phrase_"), "call_id": o.call_id, "id": o.key,
                         "latency_s": round(o.latency_s, 3)}
                        for o in sorted(lv.phrases, key=lambda o: -o.latency_s)],
        }
        rows.append(row)
    return {"levels": rows, "calls_sustained": max_sustained(levels, word_p95_target, alert_p95_target),
            "targets": {"word_to_screen_p95_s": word_p95_target, "transcript_to_alert_p95_s": alert_p95_target}}
def _ms(x: float) -> str:
    return "–" if math.isnan(x) else f"{x * 1000:.0f}"


def _s(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def render(
    levels: Sequence[LevelResult], header: dict[str, str], word_p95_target: float, alert_p95_target: float
) -> str:
    """The results as Markdown: a header block, the latency table, the per-component table."""
    out = ["# callassist bench", ""]
    out += [f"- {k}: {v}" for k, v in header.items()]
    best = max_sustained(levels, word_p95_target, alert_p95_target)
    out += [
        f"- targets: word→screen p95 ≤ {word_p95_target:g} s, alert p95 ≤ {alert_p95_target * 1000:.0f} ms",
        f"- **calls sustained in real time: {best}** (of the levels run: {', '.join(str(x.calls) for x in levels)})",
        "",
        "## Latency (seconds; alert and suggestion in ms)",
        "",
        "word→screen: for every word of every final, the receive time of the first update (partial or final) "
        "whose text covers it − the capture time of the word's end; word→final: the same to its final. "
        "partial/final update: receive time − the capture time of the update's last word (per update). "
        "alert/suggestion: receive time − the triggering transcript record's produced_at. "
        "phrase→alert / phrase→suggestion: receive time of the first alert (provisional or final) / "
        "suggestion for a phrase said in the call's audio − the capture time of the end of its matched "
        "words (ASR word timings), bench rules and KB (bench/data/bench_rules.yaml, bench_kb.yaml).",
        "",
        "| calls | audio s/call | word→screen p50 | word→screen p95 | word→final p50 | word→final p95 "
        "| phrase→alert p50 | phrase→alert p95 | phrase→sugg p50 | phrase→sugg p95 "
        "| partial update p50 | partial update p95 | final update p50 "
        "| final update p95 | alert p50 ms | alert p95 ms | suggestion p50 ms | suggestion p95 ms "
        "| n words/partial/final/alert/sugg/phrase alerts/phrase sugg | replay late s | real time |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for lv in levels:
        la = lv.latency
        ok, why = lv.sustained(word_p95_target, alert_p95_target)
        counts = "/".join(str(la[k].n) if k in la else "0" for k in ("word", *KINDS, *PHRASE_KINDS))
        screen = screen_latency(la) or la["text"]
        pa, ps = la.get("phrase_alert", _NONE), la.get("phrase_suggestion", _NONE)
        out.append(
            f"| {lv.calls} | {lv.audio_s_per_call:.0f} | {_s(screen.p50)} | {_s(screen.p95)} "
            f"| {_s(la['word_final'].p50)} | {_s(la['word_final'].p95)} "
            f"| {_s(pa.p50)} | {_s(pa.p95)} | {_s(ps.p50)} | {_s(ps.p95)} "
            f"| {_s(la['partial'].p50)} | {_s(la['partial'].p95)} "
            f"| {_s(la['final'].p50)} | {_s(la['final'].p95)} | {_ms(la['alert'].p50)} | {_ms(la['alert'].p95)} "
            f"| {_ms(la['suggestion'].p50)} | {_ms(la['suggestion'].p95)} | {counts} | {lv.max_replay_late_s:.2f} "
            f"| {'yes' if ok else 'no: ' + why} |"
        )
    out += [
        "",
        "## CPU and memory per component",
        "",
        "CPU in cores (CPU-seconds per wall second over the level; 1.0 = one core fully busy).",
        "",
        "| calls | component | CPU avg | CPU peak (1 s) | RSS peak MB | RSS end MB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for lv in levels:
        for u in lv.usage:
            out.append(
                f"| {lv.calls} | {u.component} | {u.cpu_cores_avg:.2f} | {u.cpu_cores_peak:.2f} "
                f"| {u.rss_peak_mb:.0f} | {u.rss_end_mb:.0f} |"
            )
    notes = [f"- {lv.calls} call(s): {n}" for lv in levels for n in lv.notes]
    if notes:
        out += ["", "## Notes", "", *notes]
    return "\n".join(out) + "\n"
