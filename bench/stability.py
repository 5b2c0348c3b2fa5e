"""Offline, deterministic stability of partial text, in AUDIO time (independent of CPU speed).

The live bench (``callassist bench``) measures phrase → alert on the wall clock, on a shared
machine: noisy, and it mixes ASR speed with ASR stability.  This replays recordings
through the real partial path (``ChannelStream``: the same VAD, endpointing,
``PartialDecoder``/LocalAgreement-2 and decoder as the worker) with the schedule an idle
worker follows: each 200 ms frame is pushed, every final that is ready is decoded at once,
then a partial is decoded if one is due (``ASR_PARTIAL_INTERVAL_S`` of new audio).  Model
time is not counted: every figure is audio time.

    .venv/bin/python -m bench.stability call [--seconds S] [--trace SEGMENT_ID]   # bench phrases, sample call
    .venv/bin/python -m bench.stability clips [NAME_PART ...]      # stability on ../shared/data/speech

Reported:
- per bench phrase (bench/data/bench_rules.yaml, found in the finals' words): phrase end
  (the final's word timing of its last word) → audio time at which all its words were
  stable in a partial of the same utterance, or at which the final came (``via final``);
- per clip: stable words (the last partial's stable words of each utterance) that the final
  contradicts (not in a word alignment of the two), their share, and final WER/CER.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.asr_support import CALL, RESULTS, SPEECH, load_call, pct  # noqa: E402
from models.whisper.decoding import DecodeRequest  # noqa: E402
from pipeline.asr.agreement import word_key  # noqa: E402
from pipeline.asr.calls import ChannelInput  # noqa: E402
from pipeline.asr.offline import AudioFile, frames, read_audio  # noqa: E402
from pipeline.asr.stream import SR, WINDOW, ChannelStream, SegmentOut  # noqa: E402

RULES = ROOT / "bench" / "data" / "bench_rules.yaml"
BUNDLED = ROOT / "pipeline" / "samples"  # the same call as 8 kHz µ-law: what `callassist bench` replays


@dataclass
class Replay:
    """Every partial (with the audio time it was decoded up to) and final of one recording."""

    partials: list[tuple[float, SegmentOut]] = field(default_factory=list)
    finals: list[tuple[float, SegmentOut]] = field(default_factory=list)  # (audio time it came, final)
    decodes: int = 0


def replay(engine, vad_factory, stream_config, audio: AudioFile, language: str | None) -> Replay:
    out = Replay()
    streams: dict[str, ChannelStream] = {}
    inputs: dict[str, ChannelInput] = {}

    def run(stream: ChannelStream, kind: str, now: float) -> None:
        job = stream.next_job(kind)
        if job is None:
            return
        req = DecodeRequest(job.audio, job.language, word_timestamps=True, speech_ratio=job.speech_ratio,
                            domain=job.domain)
        res = engine.decode([req])[0]
        out.decodes += 1
        if stream.language is None and res.language:
            stream.language = res.language
        for seg in stream.on_result(job, res.text, res.language, res.words):
            (out.finals if seg.is_final else out.partials).append((now, seg))

    def service(stream: ChannelStream, partials: bool = True) -> None:
        now = stream.vad.next_window * WINDOW / SR  # audio the stream has seen
        while stream.has_final_job():
            run(stream, "final", now)
        if partials and stream.wants_partial():
            run(stream, "partial", now)

    for start, ch, samples in frames(audio):
        if ch not in streams:
            streams[ch] = ChannelStream(audio.call_id, ch, vad_factory(), stream_config)
            streams[ch].language = language
            inputs[ch] = ChannelInput(audio.rate, stream_config.max_gap_s)
        data, pos = inputs[ch].feed(samples, start, audio.rate)
        if data.size:
            streams[ch].push(data, pos)
        service(streams[ch])
    for s in streams.values():
        s.finish()
        service(s, partials=False)
    return out


def stable_words(seg: SegmentOut) -> list:
    """The leading words a partial marks stable (``stable_len`` characters of its text)."""
    kept, length = [], 0
    for w in seg.words:
        length += len(w.text) if length else len(w.text.lstrip())
        if length > seg.stable_len:
            break
        kept.append(w)
    return kept


def _occurrences(keys: list[str], phrase: list[str]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(keys) - n + 1) if keys[i : i + n] == phrase]


def phrase_latencies(rep: Replay, phrases: dict[str, list[list[str]]]) -> list[dict]:
    by_segment: dict[str, list[tuple[float, SegmentOut]]] = {}
    for t, seg in rep.partials:
        by_segment.setdefault(seg.segment_id, []).append((t, seg))
    rows = []
    for t_final, fin in rep.finals:
        fkeys = [word_key(w.text) for w in fin.words]
        for rule, variants in phrases.items():
            for phrase in variants:
                for nth, i in enumerate(_occurrences(fkeys, phrase)):
                    end = fin.words[i + len(phrase) - 1].end
                    at, via = t_final, "final"
                    for t, part in by_segment.get(fin.segment_id, []):
                        skeys = [word_key(w.text) for w in stable_words(part)]
                        if len(_occurrences(skeys, phrase)) > nth:
                            at, via = t, "partial"
                            break
                    rows.append({"rule": rule, "channel": fin.channel, "segment": fin.segment_id,
                                 "phrase_end": round(end, 2), "at": round(at, 2),
                                 "latency_s": round(at - end, 2), "via": via})
    return sorted(rows, key=lambda r: r["phrase_end"])


def contradicted(rep: Replay, examples: list[str] | None = None) -> tuple[int, int]:
    """(stable words of each utterance's last partial, how many of them its final does not have).

    Stable words past the end of a split utterance's audio are checked against the next final
    of the channel (they went on in the next utterance).  ``examples`` collects each
    disagreement as "stable words -> final words"."""
    last: dict[str, SegmentOut] = {}
    for _, seg in rep.partials:
        last[seg.segment_id] = seg
    finals = sorted((seg for _, seg in rep.finals), key=lambda f: (f.channel, f.start))
    nxt = {a.segment_id: b for a, b in zip(finals, finals[1:], strict=False) if a.channel == b.channel}
    by_id = {f.segment_id: f for f in finals}
    total = bad = 0
    for sid, part in last.items():
        fin = by_id.get(sid)
        words = [w for w in stable_words(part) if word_key(w.text)]
        cut = fin.end if fin is not None and sid in nxt else float("inf")
        groups = [([w for w in words if (w.start + w.end) / 2 <= cut], fin),
                  ([w for w in words if (w.start + w.end) / 2 > cut], nxt.get(sid))]
        for ws, f in groups:
            skeys = [word_key(w.text) for w in ws]
            fkeys = [k for k in (word_key(w.text) for w in f.words) if k] if f is not None else []
            total += len(skeys)
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, skeys, fkeys, autojunk=False).get_opcodes():
                if op in ("replace", "delete"):
                    bad += i2 - i1
                    if examples is not None:
                        examples.append(f"{' '.join(skeys[i1:i2])} -> {' '.join(fkeys[j1:j2]) or '(nothing)'}")
    return total, bad


def word_latencies(rep: Replay) -> list[float]:
    """Per word of every final: its end → the audio time it was first in a partial's stable
    words of the same utterance (aligned by word key), or the final's time if never."""
    by_segment: dict[str, list[tuple[float, SegmentOut]]] = {}
    for t, seg in rep.partials:
        by_segment.setdefault(seg.segment_id, []).append((t, seg))
    out = []
    for t_final, fin in rep.finals:
        words = [w for w in fin.words if word_key(w.text)]
        fkeys = [word_key(w.text) for w in words]
        at = [t_final] * len(words)
        for t, part in by_segment.get(fin.segment_id, []):
            skeys = [k for k in (word_key(w.text) for w in stable_words(part)) if k]
            for b in difflib.SequenceMatcher(None, skeys, fkeys, autojunk=False).get_matching_blocks():
                for j in range(b.b, b.b + b.size):
                    at[j] = min(at[j], t)
        out += [round(a - w.end, 3) for a, w in zip(at, words, strict=True)]
    return out


def _load_rules() -> dict[str, list[list[str]]]:
    import yaml

    doc = yaml.safe_load(RULES.read_text())
    return {r["id"]: [[word_key(t) for t in p.split()] for p in r["phrases"]["en"]]
            for r in doc["rules"] if r["id"] != "B_PROBE"}


def _setup(args):
    from pipeline.asr.loading import load_models
    from pipeline.asr.settings import AsrSettings

    settings = AsrSettings()
    engine, vad_factory = load_models(settings)
    stream = settings.transcriber_config(engine.device, partials=True).stream
    if getattr(args, "lookback", None):  # absent from StreamConfig before issue 20's stability work
        stream = replace(stream, partial_lookback=args.lookback)
    return engine, vad_factory, stream


def _trace(rep: Replay, segment: str) -> None:
    for t, seg in rep.partials:
        if any(seg.segment_id.startswith(x) for x in segment.split(",")):
            st = stable_words(seg)
            print(f"{t:7.2f}  stable: {''.join(w.text for w in st).strip()!r}")
            print(f"         tail  : {''.join(w.text for w in seg.words[len(st):]).strip()!r}")
    for t, seg in rep.finals:
        if any(seg.segment_id.startswith(x) for x in segment.split(",")):
            print(f"{t:7.2f}  FINAL : {seg.text!r}")


def _schedules(spec: str) -> list[tuple[float, float]]:
    """``"1.0:1.0,1.5:1.4"``: (partial interval s, first partial after s) pairs."""
    return [(float(a), float(b)) for a, b in (x.split(":") for x in spec.split(","))]


def cmd_call(args) -> dict:
    engine, vad_factory, cfg = _setup(args)
    audio = load_call(args.seconds, folder=BUNDLED if args.bundled else CALL)
    rules = _load_rules()
    rows, total, bad, n_partials, decodes = [], 0, 0, 0, 0
    examples: list[str] = []
    word_lat: list[float] = []
    # Several partial schedules: on a live worker the decode times shift with load, and a
    # phrase whose stability depends on where the partials happen to fall is a fragile one.
    for interval, first in _schedules(args.schedules):
        sched = replace(cfg, partial_interval_s=interval, partial_min_s=first)
        rep = replay(engine, vad_factory, sched, audio, "en")
        if args.trace:
            _trace(rep, args.trace)
        for r in phrase_latencies(rep, rules):
            r["schedule"] = f"{interval}:{first}"
            rows.append(r)
            print(f"{r['schedule']:8} {r['rule']:16} {r['channel']:8} end {r['phrase_end']:7.2f}  "
                  f"+{r['latency_s']:5.2f} s  via {r['via']}  ({r['segment']})")
        word_lat += word_latencies(rep)
        t, b = contradicted(rep, examples)
        total, bad, n_partials, decodes = total + t, bad + b, n_partials + len(rep.partials), decodes + rep.decodes
    lat = [r["latency_s"] for r in rows]
    summary = {"phrases": rows, "p50_s": round(pct(lat, 50), 2), "p95_s": round(pct(lat, 95), 2),
               "max_s": round(max(lat), 2) if lat else None,
               "via_partial": sum(r["via"] == "partial" for r in rows), "n": len(rows),
               "stable_words": total, "stable_contradicted": bad, "partials": n_partials,
               "decodes": decodes, "schedules": args.schedules, "contradictions": examples,
               "word_to_stable_p50_s": round(pct(word_lat, 50), 2), "word_to_stable_p95_s": round(pct(word_lat, 95), 2)}
    print(f"phrase end → stable (audio time): p50 {summary['p50_s']} s, p95 {summary['p95_s']} s, "
          f"max {summary['max_s']} s; {summary['via_partial']}/{len(rows)} via partial; "
          f"stable words contradicted by the final {bad}/{total}; {n_partials} partials; word end → stable p50 "
          f"{summary['word_to_stable_p50_s']} s, p95 {summary['word_to_stable_p95_s']} s")
    return summary


def cmd_clips(args) -> dict:
    from models.whisper.scoring import error_rate

    engine, vad_factory, cfg = _setup(args)
    refs = json.loads((SPEECH / "refs.json").read_text())
    out: dict[str, dict] = {}
    all_lat: list[float] = []
    for ref in refs:
        if args.names and not any(n in ref["file"] for n in args.names):
            continue
        audio = read_audio(SPEECH / ref["file"])
        if ref.get("channel") is not None and len(audio.channels) > 1:
            idx = int(ref["channel"]) if str(ref["channel"]).isdigit() else 0
            name = list(audio.channels)[idx]
            audio = AudioFile(audio.call_id, audio.rate, {name: audio.channels[name]})
        elif len(audio.channels) > 1:
            audio = AudioFile(audio.call_id, audio.rate, {"agent": next(iter(audio.channels.values()))})
        rep = replay(engine, vad_factory, cfg, audio, ref["lang"])
        examples: list[str] = []
        total, bad = contradicted(rep, examples)
        lat = word_latencies(rep)
        all_lat += lat
        hyp = " ".join(s.text for _, s in sorted(rep.finals, key=lambda x: x[1].start))
        er = error_rate(ref["ref"], hyp, ref["lang"])
        out[ref["id"]] = {"stable_words": total, "contradicted": bad, "partials": len(rep.partials),
                          "final_error_rate": round(er.rate, 4), "contradictions": examples,
                          "word_to_stable_p50_s": round(pct(lat, 50), 2), "word_to_stable_p95_s": round(pct(lat, 95), 2)}
        print(f"{ref['id']:40} stable {total:4d}  contradicted {bad:3d}  partials {len(rep.partials):3d}  "
              f"final {'CER' if ref['lang'] == 'zh' else 'WER'} {out[ref['id']]['final_error_rate']:.3f}  "
              f"word→stable p50 {pct(lat, 50):.2f} p95 {pct(lat, 95):.2f} s")
    tot = int(sum(v["stable_words"] for v in out.values()))
    n_bad = int(sum(v["contradicted"] for v in out.values()))
    print(f"all clips: {n_bad}/{tot} stable words contradicted ({n_bad / max(tot, 1):.1%}); word end → stable "
          f"p50 {pct(all_lat, 50):.2f} s, p95 {pct(all_lat, 95):.2f} s")
    out["all"] = {"stable_words": tot, "contradicted": n_bad, "word_to_stable_p50_s": round(pct(all_lat, 50), 2),
                  "word_to_stable_p95_s": round(pct(all_lat, 95), 2)}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stability", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("call")
    c.add_argument("--seconds", type=float, default=None)
    c.add_argument("--schedules", default="1.0:1.0,1.0:1.5,1.5:1.0,1.5:1.5",
                   help="partial schedules to replay, interval:first (seconds of audio)")
    c.add_argument("--bundled", action="store_true", help="the µ-law copy in pipeline/samples (the live bench's)")
    c.add_argument("--trace", default="", help="print every partial and the final of these segment ids (comma-separated)")
    k = sub.add_parser("clips")
    k.add_argument("names", nargs="*")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--lookback", type=int, default=0, help="override ASR partial_lookback (1: plain LA-2)")
    args = p.parse_args(argv)
    result = cmd_call(args) if args.cmd == "call" else cmd_clips(args)
    path = args.json or RESULTS / f"stability-{args.cmd}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
