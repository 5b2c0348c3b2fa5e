"""docs/metrics.md (the metric contract) is well-formed, and the Grafana dashboard and the alert rules
query only what it defines, with its labels and label values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs/metrics.md"
DASHBOARD = ROOT / "k8s/grafana/callassist-dashboard.json"
RULES = ROOT / "k8s/base/monitoring/prometheusrule.yaml"
# Labels Prometheus attaches to every scraped series (PodMonitor callassist: job = component).
TARGET_LABELS = {"job", "namespace", "pod", "instance", "container"}
# Never a label: per-call or per-person values make series unbounded.
FORBIDDEN_LABELS = {"call_id", "agent_id", "customer_id", "segment_id", "user", "user_id", "queue", "seq"}
# Series from outside callassist that the dashboard/rules use, with their labels.
EXTERNAL = {"kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
            "kafka_server_replicamanager_underreplicatedpartitions": set(), "up": set()}
TYPES = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def catalogue() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, labels) from the tables of docs/metrics.md."""
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in CATALOGUE.read_text().splitlines():
        m = re.match(r"\|\s*`(callassist_\w+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} listed twice"
            rows[m.group(1)] = (m.group(2), frozenset(re.findall(r"`(\w+)`", m.group(3))))
    assert len(rows) >= 14
    return rows


def label_values() -> dict[str, set[str] | None]:
    """label -> allowed values (None: not enumerable) from the 'Label values' table."""
    text = CATALOGUE.read_text().split("### Label values", 1)[1].split("\n#", 1)[0]
    out: dict[str, set[str] | None] = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*`(\w+)`[^|]*\|(.*)\|\s*$", line)
        if m:
            values = {v for v in re.findall(r"`([^`]+)`", m.group(2)) if not v.startswith("callassist")}
            out[m.group(1)] = None if m.group(1) == "version" else out.get(m.group(1), set()) | values  # type: ignore[operator]
    return out


def own_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    return {k: v for k, v in catalogue().items() if not k.startswith("callassist_faust_")}


def series_index() -> dict[str, tuple[set[str], str]]:
    """Every series name a query may use -> (its labels, the catalogued metric it belongs to)."""
    out: dict[str, tuple[set[str], str]] = {}
    for name, (kind, labels) in catalogue().items():
        out[name] = (set(labels), name)
        if kind == "histogram":
            out[f"{name}_bucket"] = (set(labels) | {"le"}, name)
            out[f"{name}_sum"] = out[f"{name}_count"] = (set(labels), name)
    for name, external_labels in EXTERNAL.items():
        out[name] = (external_labels, name)
    return out


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every dashboard target, dashboard variable and alert rule."""
    dash = json.loads(DASHBOARD.read_text())
    out = [(f"panel {p['title']!r}", t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    out += [(f"variable {v['name']}", v["definition"]) for v in dash["templating"]["list"] if "definition" in v]
    rules = yaml.safe_load(RULES.read_text())
    out += [(f"rule {r['alert']}", r["expr"]) for g in rules["spec"]["groups"] for r in g["rules"]]
    return out


def test_catalogue_follows_prometheus_naming_and_label_rules():
    values = label_values()
    for name, (kind, labels) in catalogue().items():
        assert re.fullmatch(r"callassist_[a-z][a-z0-9_]*[a-z0-9]", name), name
        assert kind in TYPES, f"{name}: unknown type {kind}"
        assert not labels & (FORBIDDEN_LABELS | TARGET_LABELS), f"{name}: forbidden label {labels}"
        if name.startswith("callassist_faust_"):
            continue  # Faust's own names, checked against its sensor below
        assert (kind == "counter") == name.endswith("_total"), f"{name}: only counters end in _total"
        if kind == "histogram":
            assert name.endswith(("_seconds", "_factor")), f"{name}: histogram without a unit"
        for label in labels:
            assert label in values, f"{name}: label {label} has no documented values"


def test_catalogue_is_implementable_with_prometheus_client():
    registry = CollectorRegistry()
    for name, (kind, labels) in own_metrics().items():
        metric = TYPES[kind](name, "doc", sorted(labels), registry=registry)
        if labels:
            metric.labels(*["x"] * len(labels))
    exposed = generate_latest(registry).decode()
    for name, (kind, _) in own_metrics().items():
        sample = f"{name}_bucket" if kind == "histogram" else name
        assert re.search(rf"^{sample}[{{ ]", exposed, re.M), f"{name} is not exposed under that name"


def test_faust_rows_match_faust_prometheus_sensor():
    from faust.sensors.prometheus import FaustMetrics

    sensor = FaustMetrics.create(CollectorRegistry(), "callassist_faust")
    exposed = {}
    for metric in sensor:  # prometheus_client keeps name/type/labels privately; fine in a test
        suffix = "_total" if metric._type == "counter" else ""
        exposed[metric._name + suffix] = (metric._type, set(metric._labelnames))
    faust_rows = {k: v for k, v in catalogue().items() if k.startswith("callassist_faust_")}
    assert faust_rows
    for name, (kind, labels) in faust_rows.items():
        assert name in exposed, f"Faust's sensor has no {name}"
        assert exposed[name] == (kind, set(labels)), f"{name}: Faust's sensor has {exposed[name]}"


def test_dashboard_and_rules_query_only_catalogued_series_and_labels():
    index, values = series_index(), label_values()
    for where, expr in queries():
        metrics = set(re.findall(r"\b(callassist_\w+|kafka_\w+|up)\b", re.sub(r'"[^"]*"', '""', expr)))
        assert metrics, f"{where}: no metric in {expr}"
        unknown = metrics - set(index)
        assert not unknown, f"{where}: not in docs/metrics.md: {unknown}"
        for name, matchers in re.findall(r"\b([a-z_][a-z0-9_]*)\{([^}]*)\}", expr):
            for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
                allowed = index[name][0] | TARGET_LABELS
                assert label in allowed, f"{where}: {name} has no label {label}"
                enumerated = values.get(label)
                if op in ("=", "!=") and enumerated is not None and not value.startswith("$"):
                    assert value in enumerated, f"{where}: {label}={value!r} is not a documented value"
        grouping = {x.strip() for g in re.findall(r"\bby\s*\(([^)]*)\)", expr) for x in g.split(",")} - {""}
        known = set().union(*(index[m][0] for m in metrics)) | TARGET_LABELS | {"le"}
        assert grouping <= known, f"{where}: groups by unknown labels {grouping - known}"


def test_dashboard_covers_the_catalogue_and_is_well_formed():
    dash = json.loads(DASHBOARD.read_text())
    used = {m for _, expr in queries() for m in re.findall(r"\bcallassist_\w+", re.sub(r'"[^"]*"', "", expr))}
    index = series_index()
    shown = {index[m][1] for m in used if m in index}
    assert set(own_metrics()) <= shown, f"metrics with no panel: {set(own_metrics()) - shown}"
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in dash["panels"]:
        assert 0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}", p["title"]
            assert 'namespace="$namespace"' in t["expr"], f"{p['title']}: not filtered by namespace"
