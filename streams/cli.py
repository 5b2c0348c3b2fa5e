"""``callassist streams``: the Faust worker, and the offline ``check`` command.

    callassist streams [run]                      start the worker (settings from CALLASSIST_* env)
    callassist streams check FILE... [--kb K] [--rules R] [--intents]
    callassist streams kb-eval --clinc150 DIR [--threshold P]   KB retrieval + out-of-scope benchmark
    callassist streams kb-search QUERY... [--kb K] [-k N]          agent search: one JSON line per result
    callassist streams kb-report [--json]        suggestions by hit rate and feedback, from the QA store
                                                 (assist_ui.kb_report_cli; the callassist dispatcher routes it)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from streams.matching.versioned import FileFormatError


def _check(args: argparse.Namespace) -> int:
    from streams.assist.assistant import Assistant
    from streams.assist.check import check_file
    from streams.compliance.source import DEFAULT_RULES
    from streams.kb.source import DEFAULT_KB

    try:
        assistant = Assistant.from_files(args.kb or DEFAULT_KB, args.rules or DEFAULT_RULES)
    except FileFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            lines, errors = check_file(assistant, path, with_intents=args.intents)
        except OSError as exc:
            print(f"error: {path}: {exc.strerror or exc}", file=sys.stderr)
            status = 2
            continue
        for e in errors:
            print(f"error: {e} (line skipped)", file=sys.stderr)
        if errors:
            status = 2
        for line in lines:
            print(json.dumps(line, ensure_ascii=False), flush=False)
    sys.stdout.flush()
    return status


def _kb_eval(args: argparse.Namespace) -> int:
    from streams.kb import clinc

    try:
        result = clinc.evaluate(args.clinc150, threshold=args.threshold, select_on_val=args.select_on_val)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.clinc150}: cannot read CLINC150 data_full.json ({exc})", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


def _kb_search(args: argparse.Namespace) -> int:
    from streams.kb.index import KBIndex
    from streams.kb.model import load_kb
    from streams.kb.search import agent_search
    from streams.kb.source import DEFAULT_KB
    from streams.matching import text

    try:
        text.load()
        index = KBIndex(load_kb(args.kb or DEFAULT_KB))
    except FileFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in agent_search(index, " ".join(args.query), k=args.k):
        print(json.dumps(result, ensure_ascii=False))
    return 0


def _run(args: argparse.Namespace) -> int:
    from streams.worker.process import run_worker

    return run_worker()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="callassist streams", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("run", help="start the Faust stream worker (default)")
    c = sub.add_parser("check", help="run KB, rules and risk scoring over transcript JSONL files")
    c.add_argument("files", nargs="+", metavar="TRANSCRIPT.jsonl")
    c.add_argument("--kb", help="knowledge base YAML (default: the bundled sample)")
    c.add_argument("--rules", help="compliance rules YAML (default: the bundled sample)")
    c.add_argument("--intents", action="store_true", help="also print the top-3 intents of each segment")
    e = sub.add_parser("kb-eval", help="KB retrieval and out-of-scope rejection on CLINC150 (prints JSON)")
    e.add_argument("--clinc150", required=True, metavar="DIR", help="folder holding CLINC150's data_full.json")
    e.add_argument("--select-on-val", action="store_true",
                   help="strict protocol: calibrate on oos_train only and choose the threshold on the validation split")
    e.add_argument("--threshold", type=float, default=None,
                   help="suggest only at this calibrated confidence (default: the bundled KB's min_score)")
    s = sub.add_parser("kb-search", help="search the knowledge base as an agent would (zh or en)")
    s.add_argument("query", nargs="+")
    s.add_argument("--kb", help="knowledge base YAML/JSON (default: the bundled sample)")
    s.add_argument("-k", type=int, default=5, help="results (default 5)")
    args = parser.parse_args(argv or ["run"])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.cmd == "check":
        return _check(args)
    if args.cmd == "kb-search":
        return _kb_search(args)
    if args.cmd == "kb-eval":
        if args.threshold is None:
            from streams.kb.model import load_kb
            from streams.kb.source import DEFAULT_KB

            args.threshold = load_kb(DEFAULT_KB).settings.min_score
        return _kb_eval(args)
    return _run(args)


if __name__ == "__main__":
    raise SystemExit(main())
