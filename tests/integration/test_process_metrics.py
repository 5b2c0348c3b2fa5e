"""Every process serves the shared series of docs/metrics.md on /metrics (scraped over HTTP).

Each component runs as its real process (``python -m pipeline.cli <component>``, the entry
point a pod runs), all six at once on one embedded broker: wait until /readyz answers 200,
scrape /metrics, then SIGTERM and expect a clean exit (run_service's graceful stop).  The
dashboard and the CallassistErrors rule (k8s/) query these series on every job: a process
that lacks one is invisible to them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_support import Proc, settings_env
from prometheus_client.parser import text_string_to_metric_families

from assist_ui.settings import DEMO_USERS_FILE, UiSettings
from pipeline.asr.settings import AsrSettings
from pipeline.emotion.settings import EmotionSettings
from pipeline.ingest.settings import IngestSettings
from pipeline.recordings.settings import RecordingSettings
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics
from streams.platform.metrics_catalogue import CHANNELS, DROP_REASONS, ERROR_KINDS
from streams.platform.stream_settings import StreamsSettings

pytestmark = pytest.mark.integration

#: docs/metrics.md, "every process" (counters by their exposed family name, without _total)
SHARED = ("callassist_build_info", "callassist_errors", "callassist_consumer_lag",
          "callassist_active_calls", "callassist_audio_seconds", "callassist_frames_dropped")


def _families(text: str) -> dict[str, list[Any]]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_every_process_serves_the_shared_series(make_settings: Callable[..., Any], tmp_path: Path) -> None:
    probe = make_settings()
    group = uuid.uuid4().hex[:6]
    common: dict[str, Any] = {"log_level": "WARNING"}
    settings: dict[str, Any] = {
        "ingest": make_settings(IngestSettings, ingest_port=free_port(), ingest_allow_anonymous=True, **common),
        "asr": make_settings(AsrSettings, topic_asr_checkpoints=probe.topic_audio + ".ckpt",
                             asr_group_id=f"asr-{group}", asr_cpu_threads=1, **common),
        "emotion": make_settings(EmotionSettings, emotion_group_id=f"emo-{group}", **common),
        "recordings": make_settings(RecordingSettings, recordings_group_id=f"rec-{group}", **common),
        "streams": make_settings(StreamsSettings, streams_app_id=f"streams-{group}", **common),
        "ui": make_settings(UiSettings, ui_port=free_port(), ui_users_file=DEMO_USERS_FILE,
                            ui_sink_group=f"qa-sink-{group}", **common),
    }
    await ensure_topics(probe, [*probe.all_topics(), probe.topic_audio + ".ckpt"])
    ports = {name: free_port() for name in settings}
    procs = {name: Proc(name, settings_env(s, extra={"CALLASSIST_METRICS_PORT": str(ports[name])}), ports[name],
                        tmp_path / f"{name}.log") for name, s in settings.items()}
    scraped: dict[str, str] = {}
    try:
        for name, proc in procs.items():
            proc.wait_ready(240 if name == "asr" else 120)  # asr loads a whisper model first
            status, scraped[name] = proc.get("/metrics")
            assert status == 200, proc.tail()
    finally:
        for proc in procs.values():
            proc.stop()

    for name, text in scraped.items():
        fams = _families(text)
        missing = [f for f in SHARED if f not in fams]
        assert not missing, f"{name} lacks {missing}"
        assert re.search(rf'^callassist_build_info{{component="{name}",version="[^"]+"}} 1\.0$', text, re.M), name
        kinds = {s.labels["kind"] for s in fams["callassist_errors"] if s.labels.get("component") == name}
        assert kinds >= set(ERROR_KINDS), name  # every kind from the first scrape: rate() sees the first error
        assert any(s.labels == {"component": name} for s in fams["callassist_active_calls"]), name
        assert {s.labels["channel"] for s in fams["callassist_audio_seconds"]} >= set(CHANNELS), name
        assert {s.labels["reason"] for s in fams["callassist_frames_dropped"]} >= set(DROP_REASONS), name
    # every Kafka consumer reports its lag per consumed topic (ingest only produces)
    consumed = {"asr": "topic_audio", "emotion": "topic_audio", "recordings": "topic_audio",
                "streams": "topic_transcripts", "ui": "topic_qa_calls"}
    for name, topic in consumed.items():
        lag = {s.labels["topic"] for s in _families(scraped[name])["callassist_consumer_lag"]}
        assert getattr(probe, topic) in lag, (name, lag)
    # SIGTERM: graceful stop through run_service, exit code 0
    codes = {name: proc.proc.returncode for name, proc in procs.items()}
    assert codes == dict.fromkeys(procs, 0), {n: procs[n].tail(1500) for n, c in codes.items() if c}
