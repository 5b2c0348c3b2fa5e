"""Call risk score for QA ranking: 0..100 with the reasons that produced it.

Each finding contributes a probability-like weight and the weights combine by noisy-or,
``risk = 1 - prod(1 - w)``: the score is bounded, every finding raises it, and one
critical violation outranks a pile of minor ones.  The weights are policy, not
learned: they are here, in one place, so QA can argue about them.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.assist.callstate import CallState
from streams.assist.strategy import AGITATED_STATES
from streams.contract.vocab import SEVERITIES

# by severity, least severe first (streams.contract.vocab.SEVERITIES)
SEVERITY_WEIGHT = dict(zip(SEVERITIES, (0.06, 0.15, 0.30, 0.50), strict=True))
CHECK_FACTOR = 0.2
REPEAT_FACTOR = 0.5  # the 2nd alert of the same rule counts half, the 3rd a quarter, ...
ANGRY_SHARE_WEIGHT = 0.35  # times the share of customer windows that were agitated
ENDED_ANGRY_WEIGHT = 0.15
PEAK_AROUSAL = 0.85
PEAK_AROUSAL_WEIGHT = 0.08
TEXT_AGITATION_WEIGHT = 0.10
# risk levels share the severity names: score floor of each, most severe first
LEVELS = tuple(zip((70.0, 45.0, 20.0, 0.0), reversed(SEVERITIES), strict=True))


@dataclass(frozen=True, slots=True)
class Risk:
    score: float  # 0..100
    level: str
    reasons: list[str]


def level_of(score: float) -> str:
    for threshold, name in LEVELS:
        if score >= threshold:
            return name
    return "low"


def score_call(state: CallState) -> Risk:
    findings: list[tuple[float, str]] = []
    seen: dict[str, int] = {}
    live = [a for a in state.alerts if not a.get("retracted")]  # the final took a retracted one back
    for a in sorted(live, key=lambda a: a.get("evidence_start", 0.0)):
        n = seen.get(a["rule_id"], 0)
        seen[a["rule_id"]] = n + 1
        w = SEVERITY_WEIGHT.get(a["severity"], 0.1) * (REPEAT_FACTOR**n)
        if a.get("status") == "check":  # a low-confidence match: QA checks it, it barely moves the risk
            w *= CHECK_FACTOR
        if n == 0:
            where = f" at {a['evidence_start']:.0f}s" if a.get("rule_kind") != "required_missing" else ""
            said = f": \u201c{a['evidence'][:60]}\u201d" if a.get("evidence") and a.get("rule_kind") != "required_missing" else ""
            tag = " (check)" if a.get("status") == "check" else ""
            findings.append((w, f"{a['severity']} {a['rule_id']}{tag} ({a['channel']}){where}{said}"))
        else:
            findings.append((w, f"{a['rule_id']} repeated"))

    cust = [e for e in state.emotion if e["channel"] == "customer"]
    if cust:
        angry = [e for e in cust if e["state"] in AGITATED_STATES]
        share = len(angry) / len(cust)
        if share > 0:
            findings.append((ANGRY_SHARE_WEIGHT * share, f"customer agitated in {share:.0%} of the call"))
        if cust[-1]["state"] in AGITATED_STATES:
            findings.append((ENDED_ANGRY_WEIGHT, "customer still agitated at the end of the call"))
        peak = max(e["arousal"] for e in cust)
        if peak >= PEAK_AROUSAL:
            findings.append((PEAK_AROUSAL_WEIGHT, f"customer arousal peaked at {peak:.2f}"))
    if state.strategy.cue_at is not None:
        findings.append((TEXT_AGITATION_WEIGHT, f"customer said \u201c{state.strategy.cue_text}\u201d"))

    keep = 1.0
    for w, _ in findings:
        keep *= 1.0 - min(max(w, 0.0), 0.99)
    score = round(100.0 * (1.0 - keep), 1)
    # merge the "repeated" notes into one reason per rule, strongest first
    reasons: list[str] = []
    repeats: dict[str, int] = {}
    for _w, r in sorted(findings, key=lambda f: -f[0]):
        if r.endswith(" repeated"):
            repeats[r[: -len(" repeated")]] = repeats.get(r[: -len(" repeated")], 0) + 1
        else:
            reasons.append(r)
    reasons += [f"{rule} fired {n + 1} times" for rule, n in repeats.items()]
    return Risk(score, level_of(score), reasons)
