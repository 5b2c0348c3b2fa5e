"""`callassist streams` as a real Faust worker process on the real embedded broker.

Transcript segments, emotion windows and call events go in as raw records; alerts,
suggestions, emotion states and the call summary come out.  A duplicate input record
(at-least-once delivery) yields no duplicate alert; a malformed record is counted and
skipped without stopping the stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.contract.codec import decode
from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionReading,
    EmotionState,
    Suggestion,
    TranscriptSegment,
)
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.stream_settings import StreamsSettings

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]

REPO = Path(__file__).resolve().parents[2]
OUT_TYPES = {"alerts": Alert, "suggestions": Suggestion, "assist_emotion": EmotionState, "qa_calls": CallSummary}


def settings_env(s: StreamsSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASSIST_")}
    for name, value in s.model_dump().items():
        env[f"CALLASSIST_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = str(REPO)
    return env


class Worker:
    def __init__(self, settings: StreamsSettings, log: Path) -> None:
        self.log = log
        self._fh = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run"], env=settings_env(settings), cwd=REPO,
            stdout=self._fh, stderr=subprocess.STDOUT,
        )
        self.metrics_url = f"http://{settings.metrics_host}:{settings.metrics_port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.metrics_url + path, timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.get_safe("/readyz") != 200:
            assert self.proc.poll() is None, f"worker died:\n{self.log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"worker not ready:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.3)

    def get_safe(self, path: str) -> int:
        try:
            return self.get(path)[0]
        except OSError:
            return 0  # not listening yet

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._fh.close()


@pytest.fixture
def streams_settings(make_settings: Callable[..., Any]) -> StreamsSettings:
    return make_settings(
        StreamsSettings, streams_app_id=f"streams-test-{uuid.uuid4().hex[:6]}", metrics_port=free_port(),
        log_level="WARNING", streams_metrics_interval_s=0.5,
    )


@pytest.fixture
def worker(streams_settings: StreamsSettings, tmp_path: Path) -> Iterator[Worker]:
    asyncio.run(ensure_topics(streams_settings))
    w = Worker(streams_settings, tmp_path / "streams-worker.log")
    try:
        yield w
    finally:
        w.stop()


class Bus:
    """Producer of input records and collector of every output topic."""

    def __init__(self, s: StreamsSettings, worker: Worker) -> None:
        self.s, self.worker = s, worker
        self.got: dict[str, list[Any]] = {k: [] for k in OUT_TYPES}
        self._topic_kind = {getattr(s, f"topic_{k}"): k for k in OUT_TYPES}

    async def __aenter__(self) -> Bus:
        self.producer = make_producer(self.s, linger_ms=0)
        self.consumer = make_consumer(self.s, None, *self._topic_kind)
        await start_client(self.producer, self.s)
        await start_client(self.consumer, self.s)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def send(self, topic: str, call_id: str, value: bytes) -> None:
        await self.producer.send_and_wait(topic, value, key=call_id.encode())

    async def wait_for(self, pred: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not pred():
            assert self.worker.proc.poll() is None, f"worker died:\n{self.worker.log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"timed out; got {self.counts()}\n{self.worker.log.read_text()[-3000:]}"
            batch = await self.consumer.getmany(timeout_ms=300)
            for tp, msgs in batch.items():
                kind = self._topic_kind[tp.topic]
                self.got[kind] += [decode(OUT_TYPES[kind], m.value) for m in msgs]

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.got.items()}


def seg(call_id: str, n: int, channel: str, start: float, text: str) -> bytes:
    return TranscriptSegment(
        call_id=call_id, channel=channel, segment_id=f"{call_id}:{channel}:{n}", is_final=True, start=start,
        end=start + 3.0, text=text, language="zh", produced_at=time.time(),
    ).to_bytes()


async def test_worker_turns_transcripts_into_alerts_suggestions_and_a_scored_call(
    worker: Worker, streams_settings: StreamsSettings
) -> None:
    s = streams_settings
    call = f"call-{uuid.uuid4().hex[:6]}"
    async with Bus(s, worker) as bus:
        await bus.send(s.topic_events, call, CallEvent(call_id=call, kind="started", ts=time.time(), agent_id="a9",
                                                       queue="life").to_bytes())
        await bus.send(s.topic_transcripts, call, seg(call, 1, "agent", 0.5, "您好，本次通话将被录音"))
        mis_sale = seg(call, 2, "agent", 5.0, "这个产品是保本保息的，您放心")
        await bus.send(s.topic_transcripts, call, mis_sale)
        # the first record may wait for the worker's start and group join
        await bus.wait_for(lambda: len(bus.got["alerts"]) >= 1, within=120)
        [alert] = bus.got["alerts"]
        assert (alert.rule_id, alert.severity, alert.evidence, alert.call_id) == (
            "AG_GUARANTEED_RETURN", "critical", "保本保息", call)
        assert alert.rules_version.startswith("2025.06.1+") and alert.source_produced_at > 0
        assert alert.produced_at >= alert.source_produced_at and alert.segment_id == f"{call}:agent:2"

        # at-least-once: the same record again, then garbage, then a new question
        await bus.send(s.topic_transcripts, call, mis_sale)
        await bus.send(s.topic_transcripts, call, b"{not json")
        await bus.send(s.topic_transcripts, call, b'{"call_id": "x", "channel": "agent"}')
        await bus.send(s.topic_transcripts, call, seg(call, 3, "customer", 9.0, "我出车祸了，车被撞了要怎么报案"))
        await bus.wait_for(lambda: any(x.intent == "claim_report" for x in bus.got["suggestions"]), within=30)
        assert [a.rule_id for a in bus.got["alerts"]] == ["AG_GUARANTEED_RETURN"]  # no duplicate alert
        kb = next(x for x in bus.got["suggestions"] if x.kind == "kb")
        assert kb.score >= 0.45 and kb.kb_version and kb.links and "报案" in kb.matched

        await bus.send(s.topic_emotion, call, EmotionReading(
            call_id=call, channel="customer", window_id=f"{call}:customer:1", start=9.0, end=11.0,
            probs={"angry": 0.8}, arousal=0.82, state="angry", produced_at=time.time()).to_bytes())
        # topics are consumed independently: wait until the emotion window is in the call state
        # (the customer's words emit assist.emotion updates too: wait for the voice window's own one)
        await bus.wait_for(lambda: any(e.at == 11.0 for e in bus.got["assist_emotion"]), within=30)
        await bus.send(s.topic_transcripts, call, seg(call, 4, "customer", 12.0, "我要退保，现在就给我退"))
        await bus.wait_for(
            lambda: any(x.suggestion_id.endswith("angry_cancel_retention") for x in bus.got["suggestions"]), within=30
        )
        # the customer's words (车祸/撞了, then 退保) also update the fused customer state
        [emo] = [e for e in bus.got["assist_emotion"] if e.at == 11.0]  # the voice window
        assert (emo.state, emo.channel, emo.trend) == ("angry", "customer", "steady")
        # assist.emotion and assist.suggestions are separate topics: wait for the words' update itself
        def fused(e: Any) -> bool:
            return "退保" in "".join(e.reasons) and e.at >= 11.0
        await bus.wait_for(lambda: any(fused(e) for e in bus.got["assist_emotion"]), within=30)
        last = next(e for e in bus.got["assist_emotion"] if fused(e))
        assert last.customer_state == "agitated" and last.reasons[0] == "voice agitated" and "退保" in last.reasons[1]
        # the angry caller with a claim got "care first" on the emotion window already
        assert [x.suggestion_id.rsplit(":", 1)[1] for x in bus.got["suggestions"] if x.kind == "strategy"] == [
            "distressed_claim_empathy", "angry_cancel_retention"]
        assert not any(x.intent == "cancel_policy" and x.kind == "kb" for x in bus.got["suggestions"])

        await bus.send(s.topic_events, call, CallEvent(call_id=call, kind="ended", ts=time.time(),
                                                       duration=75.0).to_bytes())
        await bus.wait_for(lambda: len(bus.got["qa_calls"]) >= 1, within=30)
        [summary] = bus.got["qa_calls"]
        assert summary.agent_id == "a9" and summary.queue == "life" and summary.risk_level in ("high", "critical")
        assert summary.reasons and len(summary.transcript) == 4
        assert {a.rule_id for a in summary.alerts} >= {"AG_GUARANTEED_RETURN", "RQ_CLOSING"}

    status, ready = worker.get("/readyz")
    assert status == 200
    # the gauges are sampled every 0.5 s: wait for a sample taken after the last record
    lag_zero = [f'callassist_consumer_lag{{topic="{t}"}} 0.0' for t in (s.topic_transcripts, s.topic_events)]
    deadline = time.monotonic() + 10
    while True:
        metrics = worker.get("/metrics")[1]
        if all(x in metrics for x in lag_zero) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert f'callassist_records_malformed_total{{topic="{s.topic_transcripts}"}} 2.0' in metrics
    assert 'callassist_errors_total{component="streams",kind="malformed_record"} 2.0' in metrics
    assert 'callassist_streams_records_total{kind="transcripts",outcome="duplicate"} 1.0' in metrics
    assert re.search(r"^callassist_transcript_to_alert_seconds_count [1-9]", metrics, re.M)
    assert re.search(r"^callassist_transcript_to_suggestion_seconds_count [1-9]", metrics, re.M)
    assert 'callassist_build_info{component="streams",version=' in metrics
    # every input topic has a lag series; the test's topics are all consumed by now
    for topic in (s.topic_transcripts, s.topic_emotion, s.topic_events):
        assert f'callassist_consumer_lag{{topic="{topic}"}} 0.0' in metrics, [
            x for x in metrics.splitlines() if "lag" in x]
    assert 'callassist_active_calls{component="streams"} 0.0' in metrics  # the call has ended
    assert json.dumps(call) not in metrics  # no per-call labels


async def test_state_survives_a_restart_and_rule_edits_apply_without_one(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text((REPO / "streams" / "data" / "rules.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    s = make_settings(StreamsSettings, streams_app_id=f"streams-restart-{uuid.uuid4().hex[:6]}",
                      metrics_port=free_port(), log_level="WARNING", streams_rules_path=rules,
                      streams_reload_interval_s=0.5)
    await ensure_topics(s)
    call = f"call-{uuid.uuid4().hex[:6]}"
    mis_sale = seg(call, 1, "agent", 2.0, "您好，这个产品稳赚不赔")
    first = Worker(s, tmp_path / "first.log")
    try:
        async with Bus(s, first) as bus:
            await bus.send(s.topic_transcripts, call, mis_sale)
            await bus.wait_for(lambda: len(bus.got["alerts"]) >= 1, within=120)
            old_version = bus.got["alerts"][0].rules_version
            # let Faust commit the offset (commit interval ~3 s): the restart test is about the
            # table, not about replaying an uncommitted record
            await asyncio.sleep(4)
    finally:
        first.stop()

    restarted_at = time.time()
    second = Worker(s, tmp_path / "second.log")
    try:
        async with Bus(s, second) as bus:
            await asyncio.to_thread(second.wait_ready)
            # a re-delivered copy after the restart: the recovered table knows the segment
            await bus.send(s.topic_transcripts, call, mis_sale)
            # edit the rule file while the worker runs: a new forbidden phrase
            text = rules.read_text(encoding="utf-8").replace("[保本保息, 保证收益,", "[保本保息, 闭着眼睛买, 保证收益,")
            rules.write_text(text, encoding="utf-8")
            await asyncio.sleep(1.5)
            await bus.send(s.topic_transcripts, call, seg(call, 2, "agent", 8.0, "这个您闭着眼睛买就行"))
            def new_alerts() -> list[Alert]:  # the topic still holds the first worker's alert
                return [a for a in bus.got["alerts"] if a.produced_at > restarted_at]

            await bus.wait_for(lambda: len(new_alerts()) >= 1, within=120)
            [alert] = new_alerts()  # nothing for the duplicate, which was sent first
            assert (alert.rule_id, alert.evidence) == ("AG_GUARANTEED_RETURN", "闭着眼睛买")
            assert alert.rules_version != old_version and alert.rules_version.startswith("2025.06.1+")
        _, metrics = second.get("/metrics")
        assert "callassist_streams_reloads_total{file=\"rules\",outcome=\"ok\"}" in metrics, [
            x for x in metrics.splitlines() if "reloads" in x]
    finally:
        second.stop()
