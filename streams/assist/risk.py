"""Call risk score for QA ranking: 0..100 with the reasons that produced it.

Each finding contributes a probability-like weight and the weights combine by noisy-or,
``risk = 1 - prod(1 - w)``: the score is bounded, every finding raises it, and one
critical violation outranks a pile of minor ones.  The weights are policy, not
learned: they are here, in one place, so QA can argue about them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
class Finding:
    """One reason for the risk, as data: the fields of the wire record
    ``streams.contract.records.RiskReason`` (see there for what each means)."""

    code: str
    text: str
    rule_id: str = ""
    severity: str = ""
    channel: str = ""
    status: str = ""
    at: float = -1.0
    evidence: str = ""
    value: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Risk:
    score: float  # 0..100
    level: str
    findings: list[Finding]  # strongest first

    @property
    def reasons(self) -> list[str]:
        """The findings as English sentences (CallSummary.reasons: old readers, logs, CSV)."""
        return [f.text for f in self.findings]


def level_of(score: float) -> str:
    for threshold, name in LEVELS:
        if score >= threshold:
            return name
    return "low"


def _alert_finding(a: dict[str, Any]) -> Finding:
    absent = a.get("rule_kind") == "required_missing"  # a phrase never said has no time or words
    status = "check" if a.get("status") == "check" else "violation"
    quote = "" if absent else str(a.get("evidence") or "")[:60]
    where = "" if absent else f" at {a['evidence_start']:.0f}s"
    said = f": \u201c{quote}\u201d" if quote else ""
    tag = " (check)" if status == "check" else ""
    return Finding(
        "alert", f"{a['severity']} {a['rule_id']}{tag} ({a['channel']}){where}{said}",
        rule_id=a["rule_id"], severity=a["severity"], channel=a["channel"], status=status,
        at=-1.0 if absent else float(a.get("evidence_start", 0.0)), evidence=quote,
    )


def score_call(state: CallState) -> Risk:
    weighted: list[tuple[float, Finding]] = []
    seen: dict[str, int] = {}
    repeats: dict[str, tuple[dict[str, Any], int]] = {}  # rule id -> (its first alert, repeats)
    live = [a for a in state.alerts if not a.get("retracted")]  # the final took a retracted one back
    for a in sorted(live, key=lambda a: a.get("evidence_start", 0.0)):
        n = seen.get(a["rule_id"], 0)
        seen[a["rule_id"]] = n + 1
        w = SEVERITY_WEIGHT.get(a["severity"], 0.1) * (REPEAT_FACTOR**n)
        if a.get("status") == "check":  # a low-confidence match: QA checks it, it barely moves the risk
            w *= CHECK_FACTOR
        if n == 0:
            weighted.append((w, _alert_finding(a)))
        else:
            weighted.append((w, Finding("repeated", "", rule_id=a["rule_id"])))  # merged into one reason below
            first, k = repeats.get(a["rule_id"], (a, 0))
            repeats[a["rule_id"]] = (first, k + 1)

    cust = [e for e in state.emotion if e.channel == "customer"]
    if cust:
        angry = [e for e in cust if e.state in AGITATED_STATES]
        share = len(angry) / len(cust)
        if share > 0:
            weighted.append((ANGRY_SHARE_WEIGHT * share, Finding(
                "agitated_share", f"customer agitated in {share:.0%} of the call", channel="customer",
                value=round(share, 4))))
        if cust[-1].state in AGITATED_STATES:
            weighted.append((ENDED_ANGRY_WEIGHT, Finding(
                "agitated_end", "customer still agitated at the end of the call", channel="customer",
                at=float(cust[-1].at))))
        top = max(cust, key=lambda e: e.arousal)
        peak = top.arousal
        if peak >= PEAK_AROUSAL:
            weighted.append((PEAK_AROUSAL_WEIGHT, Finding(
                "arousal_peak", f"customer arousal peaked at {peak:.2f}", channel="customer",
                at=float(top.at), value=float(peak))))
    if state.strategy.cue_at is not None:
        cue = state.strategy.cue_text
        weighted.append((TEXT_AGITATION_WEIGHT, Finding(
            "said_cue", f"customer said \u201c{cue}\u201d", channel="customer", at=float(state.strategy.cue_at),
            evidence=cue)))

    keep = 1.0
    for w, _ in weighted:
        keep *= 1.0 - min(max(w, 0.0), 0.99)
    score = round(100.0 * (1.0 - keep), 1)
    # strongest first; the repeats of a rule become one reason per rule, after the others
    # (in the order of each rule's strongest repeat)
    ranked = [f for _w, f in sorted(weighted, key=lambda f: -f[0])]
    findings = [f for f in ranked if f.code != "repeated"]
    for rule_id in dict.fromkeys(f.rule_id for f in ranked if f.code == "repeated"):
        first, k = repeats[rule_id]
        findings.append(Finding(
            "repeated", f"{rule_id} fired {k + 1} times", rule_id=rule_id, severity=first["severity"],
            channel=first["channel"], value=float(k + 1)))
    return Risk(score, level_of(score), findings)
