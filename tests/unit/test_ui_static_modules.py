"""The pages' JavaScript as ES modules: one shared shell, every import served as JavaScript, and
the risk reasons rendered from data (run under Node when it is installed; the browser tests in
tests/e2e run the same modules in Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from assist_ui.auth import UserDirectory
from assist_ui.fanout import Hub
from assist_ui.http_api import PAGES, STATIC_DIR, HttpApi
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics

pytestmark = pytest.mark.unit

JS = STATIC_DIR / "js"
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.\/[^'"]+)['"]""", re.M)
NODE = shutil.which("node")


def _api() -> HttpApi:
    users = UserDirectory.from_json(json.dumps({"users": [{"id": "a", "role": "agent", "token": "agent-token-000001"}]}))
    state = LiveState()
    return HttpApi(users, None, state, Hub(state), UiMetrics())


def test_pages_load_one_module_and_carry_no_copy_of_the_shell():
    for page in sorted(set(PAGES.values())):
        html = (STATIC_DIR / page).read_text(encoding="utf-8")
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts == [f'<script type="module" src="/static/js/{page.removesuffix(".html")}.js">'], page
        # the header and the sign-in form are built by js/shell.js, not copied into each page
        assert "<header" not in html and 'id="signin"' not in html, page


async def test_every_import_resolves_to_a_file_served_as_javascript():
    api = _api()
    seen = set()
    for path in sorted(JS.glob("*.js")):
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            assert (JS / target).is_file(), f"{path.name} imports missing {target}"
            seen.add(target)
        r = await api.handle("GET", f"/static/js/{path.name}", {})
        # browsers refuse a module script served with a non-JavaScript MIME type
        assert r.status == 200 and r.content_type.startswith("text/javascript"), path.name
    assert {"./common.js", "./vocab.js", "./shell.js", "./reasons.js"} <= seen


def test_one_source_of_the_severity_order():
    # the order is spelled once, in vocab.js; the pages use its helpers
    for path in sorted(JS.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        if path.name != "vocab.js":
            assert "'critical', 'high'" not in text and "'low', 'medium'" not in text, path.name
            assert "SEV_RANK[" not in text, path.name


def test_modules_stay_small():
    for path in sorted(JS.glob("*.js")):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name


_NODE_SCRIPT = """
const lang = process.argv[2];
globalThis.localStorage = { getItem: (k) => (k === 'ca.lang' ? lang : null), setItem: () => {} };
globalThis.sessionStorage = globalThis.localStorage;
globalThis.window = globalThis;
if (!globalThis.navigator) globalThis.navigator = { language: 'en' };
const R = await import(process.argv[1] + '/reasons.js');
const call = JSON.parse(process.argv[3]);
console.log(JSON.stringify({ data: R.callReasons(call), old: R.callReasons({ reasons: call.reasons }) }));
"""

RISK_REASONS = [
    {"code": "alert", "text": "high forbidden.x (agent) at 13s: \u201c保证收益\u201d", "rule_id": "forbidden.x",
     "severity": "high", "channel": "agent", "status": "", "at": 13.2, "evidence": "保证收益", "value": 0},
    {"code": "alert", "text": "medium RQ_ID (agent)", "rule_id": "RQ_ID", "severity": "medium", "channel": "agent",
     "status": "check", "at": -1, "evidence": "", "value": 0},
    {"code": "agitated_share", "text": "customer agitated in 40% of the call", "rule_id": "", "severity": "",
     "channel": "customer", "status": "", "at": -1, "evidence": "", "value": 0.4},
    {"code": "agitated_end", "text": "customer still agitated at the end of the call", "rule_id": "", "severity": "",
     "channel": "customer", "status": "", "at": -1, "evidence": "", "value": 0},
    {"code": "arousal_peak", "text": "customer arousal peaked at 0.87", "rule_id": "", "severity": "",
     "channel": "customer", "status": "", "at": 40.0, "evidence": "", "value": 0.871},
    {"code": "said_cue", "text": "customer said \u201c我要投诉\u201d", "rule_id": "", "severity": "",
     "channel": "customer", "status": "", "at": 22.0, "evidence": "我要投诉", "value": 0},
    {"code": "repeated", "text": "forbidden.x fired 3 times", "rule_id": "forbidden.x", "severity": "high",
     "channel": "agent", "status": "", "at": -1, "evidence": "", "value": 3},
    {"code": "from_the_future", "text": "a reason this page does not know", "rule_id": "", "severity": "",
     "channel": "", "status": "", "at": -1, "evidence": "", "value": 0},
]


def _node(lang: str, call: dict) -> dict:
    assert NODE is not None
    out = subprocess.run([NODE, "--input-type=module", "-e", _NODE_SCRIPT, "--", JS.as_uri(), lang, json.dumps(call)],
                         capture_output=True, text=True, timeout=30, check=True)
    result: dict = json.loads(out.stdout)
    return result


@pytest.mark.skipif(NODE is None, reason="node not installed (the e2e tests cover the page in Chromium)")
def test_risk_reasons_are_rendered_from_data_by_code():
    call = {"risk_reasons": RISK_REASONS, "reasons": [r["text"] for r in RISK_REASONS]}
    zh = _node("zh", call)
    assert [r["label"] for r in zh["data"]] == [
        "高：forbidden.x（坐席），第 13 秒：“保证收益”",
        "中：RQ_ID（坐席） (待核查)",
        "客户在 40% 的通话时间里情绪激动",
        "通话结束时客户仍然情绪激动",
        "客户激动程度峰值 0.87",
        "客户说：“我要投诉”",
        "forbidden.x 触发了 3 次",
        "a reason this page does not know",  # an unknown code: its English text
    ]
    assert [r["title"] for r in zh["data"]] == [r["text"] for r in RISK_REASONS]
    # an old stored call has only the sentences: the known shapes are still translated
    assert zh["old"][0]["label"] == "高：forbidden.x（坐席），第 13 秒：“保证收益”"
    assert zh["old"][2]["label"] == "客户在 40% 的通话时间里情绪激动"
    en = _node("en", call)
    assert en["data"][0]["label"] == "High: forbidden.x (Agent) at 13 s: “保证收益”"
    assert en["data"][4]["label"] == "customer arousal peaked at 0.87"
