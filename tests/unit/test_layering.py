"""The house rules of the import graph, checked on the code itself.

Layers, lowest first: ``streams.contract`` (the wire) <- ``streams.platform`` (what every
process stands on) <- ``streams.matching`` (the text layer) <- ``streams.kb`` /
``streams.compliance`` (side by side) <- ``streams.assist`` <- ``streams.worker`` (Faust)
<- ``streams.cli``.  ``models`` (inference, no I/O) imports nothing of ours; the text layer and
everything above it may use it.  ``pipeline`` and ``assist_ui`` stand on the contract, the
platform, the text layer, the KB and rule libraries and ``models``, never on the stream
processors (``streams.assist``, ``streams.worker``) or on each other; ``bench`` (benchmarks and evaluations) may use anything, and nothing uses it.
Every import counts, also one inside a function (a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "pipeline", "models", "assist_ui", "bench")

_BASE = {"streams.contract"}
_PLATFORM = _BASE | {"streams.platform"}
# models/ is the floor of inference (no I/O, no imports of ours): the text layer reuses the ASR
# text normaliser (models.whisper.text) so transcripts and rules are normalised the same way
_TEXT = _PLATFORM | {"streams.matching", "models"}
_LIBRARIES = _TEXT | {"streams.kb", "streams.compliance"}
#: room -> the rooms it may import from (besides itself); the longest matching prefix wins
ALLOWED: dict[str, set[str]] = {
    "streams": set(),  # the package's __init__
    "streams.contract": set(),
    "streams.platform": _BASE | {"models"},  # the audio codec shares models' G.711 tables
    "streams.matching": _PLATFORM | {"models"},
    "streams.kb": _TEXT,
    "streams.compliance": _TEXT,
    "streams.assist": _LIBRARIES,
    "streams.worker": _LIBRARIES | {"streams.assist"},
    "streams.cli": _LIBRARIES | {"streams.assist", "streams.worker", "streams"},
    "models": set(),
    "pipeline": _LIBRARIES | {"models"},
    "assist_ui": _LIBRARIES | {"models"},
    "bench": set(),  # filled below: anything
}
ALLOWED["bench"] = set(ALLOWED) - {"bench"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` imports are not arrows at run time
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _room(module: str) -> str:
    best = ""
    for room in ALLOWED:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    return best


def test_no_arrow_runs_against_the_layers() -> None:
    bad = []
    for src, targets in sorted(_graph().items()):
        room = _room(src)
        for dst in sorted(targets):
            other = _room(dst)
            if other != room and other not in ALLOWED[room]:
                bad.append(f"{src} -> {dst}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_import_loops() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                loops.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    # a package's __init__ that imports its own submodules is not a loop of design
    loops = [c for c in loops if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert not loops, "import loops:\n" + "\n".join(" <-> ".join(c) for c in loops)


def test_every_module_is_in_a_room() -> None:
    assert not [m for m in _modules() if not _room(m)]


@pytest.mark.parametrize("module", [
    "streams.contract.records",
    "streams.contract.audio",
    "streams.platform.kafka_clients",
    "pipeline.ingest.protocol",
    "pipeline.ingest.server",
    "pipeline.asr.transcriber",
    "models.whisper.engine",
    "pipeline.emotion.engine",
    "streams.assist.assistant",
    "assist_ui.server",
])
def test_only_the_faust_worker_loads_faust(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m == 'faust' or m.startswith('faust.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", f"{module} loads Faust: {out.stdout[:200]}"


def test_faust_is_imported_only_inside_the_worker() -> None:
    users = defaultdict(list)
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if "import faust" in text or "from faust" in text:
            users[_room(name)].append(name)
    assert set(users) <= {"streams.worker"}, dict(users)


MAX_MODULE_LINES = 400


def test_no_module_is_over_the_size_limit() -> None:
    sources = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    sources += list((ROOT / "assist_ui" / "static").rglob("*.js"))
    big = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split by responsibility): {big}"
