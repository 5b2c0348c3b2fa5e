"""Domain biasing on real speech: CER/WER per clip and domain-term errors, before/after.

    nice -n 10 .venv/bin/python -m bench.asr_vocab_eval run --tag base            # no biasing
    nice -n 10 .venv/bin/python -m bench.asr_vocab_eval run --tag prompt --vocab streams/data/vocab/insurance_banking.yaml
    .venv/bin/python -m bench.asr_vocab_eval score base prompt [--correct VOCAB]  # table (no decoding)

Transcripts are cached in var/asr_eval/<tag>.json (decoding is the expensive part: run it
once per configuration); post-correction is applied at scoring time to the cached text, so
its effect is measured separately from the decoder bias.

zh_magicdata split (fixed before looking at any error): per domain, sentences 1-25
(``id % 1000 <= 25``) are the **tuning** part, 26-50 the **held-out** part.  Only errors on
the tuning part may be looked at while choosing terms or thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.whisper.scoring import ErrorRate, error_rate  # noqa: E402
from pipeline.asr.offline import AudioFile, feed_file  # noqa: E402
from pipeline.asr.settings import AsrSettings  # noqa: E402
from pipeline.asr.transcriber import Transcriber  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"
MAGIC = SPEECH / "zh_magicdata"
CALL = ROOT.parent / "shared" / "data" / "calls"
CALL_REF = ROOT / "bench" / "data" / "auto_repairs_40.reference.json"
CACHE = ROOT / "var" / "asr_eval"


def split_of(clip_id: str) -> str:
    n = int(clip_id.rsplit("_", 1)[1]) % 1000
    return "tuning" if n <= 25 else "held_out"


def clips() -> list[dict]:
    out = []
    ref = json.loads(CALL_REF.read_text())
    for ch, name in (("agent", "agent"), ("customer", "caller")):
        out.append(
            {
                "id": f"call_{ch}",
                "path": str(CALL / f"auto_repairs_40_{name}.wav"),
                "channel": None,
                "lang": "en",
                "ref": " ".join(ref["channels"][ch]),
                "set": "shared",
            }
        )
    for r in json.loads((SPEECH / "refs.json").read_text()):
        out.append({**r, "path": str(SPEECH / r["file"]), "set": "shared"})
    for r in json.loads((MAGIC / "refs.json").read_text()):
        out.append({**r, "path": str(MAGIC / r["file"]), "channel": None, "set": split_of(r["id"])})
    return out


async def run(tag: str, vocab: str | None, only: str | None = None) -> None:
    from pipeline.asr.loading import load_models

    overrides: dict = {"asr_vocab_files": vocab or ""}  # no --vocab: no biasing at all (the "before")
    settings = AsrSettings(**overrides)
    engine, vad_factory = load_models(settings)
    cfg = settings.transcriber_config(engine.device, partials=False)
    finals: dict[str, list] = {}

    async def on(segs):
        for s in segs:
            if s.is_final and s.text:
                finals.setdefault(s.call_id, []).append(s)

    tr = Transcriber(engine, vad_factory, cfg, on)
    await tr.start()
    result = {}
    try:
        for c in clips():
            if only and not c["id"].startswith(only):
                continue
            data, rate = await asyncio.to_thread(sf.read, c["path"], dtype="float32", always_2d=True)
            audio = AudioFile(c["id"], int(rate), {"agent": data[:, c["channel"] or 0]})
            await feed_file(tr, audio, c["lang"])
            await tr.drain()
            segs = sorted(finals.get(c["id"], []), key=lambda s: s.start)
            sep = "" if c["lang"] == "zh" else " "
            result[c["id"]] = sep.join(s.text for s in segs)
    finally:
        await tr.stop()
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"{tag}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"wrote {CACHE / f'{tag}.json'} ({len(result)} clips)")


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tag", required=True)
    r.add_argument("--vocab", default=None)
    r.add_argument("--only", default=None, help="only clips whose id starts with this")
    s = sub.add_parser("score")
    s.add_argument("tags", nargs="+")
    s.add_argument("--correct", default=None, help="vocabulary file: apply post-correction to each tag")
    s.add_argument(
        "--show-held-out", action="store_true", help="list changes on held-out clips too (report only)"
    )
    args = p.parse_args()
    if args.cmd == "run":
        asyncio.run(run(args.tag, args.vocab, args.only))
        return 0
    return score(args.tags, args.correct, args.show_held_out)


def _vocabulary(path: str | None):
    from pipeline.asr.settings import AsrSettings
    from pipeline.asr.vocab import build_vocabulary

    st = AsrSettings()
    files = [Path(path)] if path else st.vocab_paths()
    return build_vocabulary(files, st.asr_vocab_kb_path, st.asr_vocab_rules_path)


def term_counts(text: str, terms: tuple[str, ...]) -> dict[str, int]:
    from models.whisper.scoring import chars_for_cer

    flat = "".join(chars_for_cer(text))
    return {t: flat.count(t) for t in terms if t in flat}


def score(tags: list[str], correct: str | None, show_held_out: bool = False) -> int:
    from pipeline.asr.correction import Corrector

    refs = {c["id"]: c for c in clips()}
    vocab = _vocabulary(correct)
    zh_terms = vocab.terms_for("zh")
    corrector = Corrector(zh_terms, vocab.no_correct)
    hyps_by_tag: dict[str, dict[str, str]] = {}
    for tag in tags:
        hyps = json.loads((CACHE / f"{tag}.json").read_text())
        extra = CACHE / f"{tag}_call.json"  # the sample call, run separately (--only call)
        if extra.is_file():
            hyps.update(json.loads(extra.read_text()))
        hyps_by_tag[tag] = hyps
        if correct:
            hyps_by_tag[tag + "+corr"] = {
                k: (corrector.correct(v) if refs.get(k, {}).get("lang") == "zh" else v)
                for k, v in hyps.items()
            }
    names = list(hyps_by_tag)
    rows: dict[str, dict[str, ErrorRate]] = {}
    totals: dict[str, dict[str, ErrorRate]] = {}
    term_err: dict[str, dict[str, list[int]]] = {}
    for tag, hyps in hyps_by_tag.items():
        for cid, c in refs.items():
            if cid not in hyps:
                continue  # not run for this tag (e.g. the sample call)
            hyp = hyps[cid]
            er = error_rate(c["ref"], hyp, c["lang"])
            rows.setdefault(cid, {})[tag] = er
            part = c["set"] if c["set"] != "shared" else "shared"
            t = totals.setdefault(tag, {})
            for key in (part, "all") if part != "shared" else (part,):
                t[key] = t.get(key, ErrorRate(0, 0)) + er
            if c["lang"] == "zh":
                rc, hc = term_counts(c["ref"], zh_terms), term_counts(hyp, zh_terms)
                miss = sum(max(0, n - hc.get(k, 0)) for k, n in rc.items())
                extra_terms = sum(max(0, n - rc.get(k, 0)) for k, n in hc.items())
                e = term_err.setdefault(tag, {}).setdefault(part, [0, 0, 0])
                e[0] += sum(rc.values())
                e[1] += miss
                e[2] += extra_terms
    print("| clip | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for cid, c in refs.items():
        if c["set"] == "shared":
            m = "CER" if c["lang"] == "zh" else "WER"
            cells = [f"{rows[cid][t].rate:.1%}" if t in rows.get(cid, {}) else "-" for t in names]
            print(f"| {cid} ({m}) | " + " | ".join(cells) + " |")
    for part in ("tuning", "held_out", "all"):
        print(
            f"| zh_magicdata {part} (CER) | "
            + " | ".join(f"{totals[t][part].rate:.1%}" for t in names)
            + " |"
        )
    print("\ndomain terms (zh): occurrences in references / missed / inserted")
    for tag in names:
        print(
            f"  {tag}: "
            + "; ".join(f"{p} {v[0]}/{v[1]}/{v[2]}" for p, v in sorted(term_err.get(tag, {}).items()))
        )
    if correct:
        print(
            "\npost-correction changes (tuning + shared clips"
            + (", held-out" if show_held_out else "")
            + "):"
        )
        for tag in tags:
            for cid, hyp in hyps_by_tag[tag].items():
                if refs.get(cid, {}).get("lang") != "zh":
                    continue
                if refs[cid]["set"] == "held_out" and not show_held_out:
                    continue  # tuning looks at tuning errors only
                for r in corrector.find(hyp):
                    print(f"  {tag} {cid}: {r.before} -> {r.after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
