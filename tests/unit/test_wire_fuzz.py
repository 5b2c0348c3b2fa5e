"""Property-based fuzzing of every decoder and every consumer's per-record handler (#18).

Arbitrary bytes, arbitrary JSON and valid records with one field replaced by arbitrary JSON
go to each decoder (only :class:`RecordDecodeError` may come out) and to each consumer's
handler (nothing may come out: a bad record is skipped and counted, never raised).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from asr_fakes import EnergyVad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assist_ui.fanout import Hub
from assist_ui.kafka_bridge import RECORD_TYPES, LiveBridge
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.samples import sample_call
from assist_ui.sink import QaSink
from pipeline.emotion.metrics import EmotionMetrics
from pipeline.emotion.worker import decode_input
from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode, record_fields
from streams.contract.records import EmotionReading
from streams.contract.topics import TOPIC_RECORDS

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

# one valid record of every JSON topic, from the bundled sample call
_SAMPLES: dict[type, dict[str, Any]] = {}
for _step in sample_call("c1", "agent-1", "zh", t0=1000.0):
    _SAMPLES.setdefault(type(_step.record), json.loads(_step.record.to_bytes()))
_SAMPLES.setdefault(EmotionReading, json.loads(EmotionReading(
    call_id="c1", channel="customer", window_id="c1:customer:0", start=0.0, end=2.5,
    probs={"neutral": 0.2, "angry": 0.8}, arousal=0.8, state="agitated", hints=["slow down"]).to_bytes()))
JSON_TYPES = [cls for cls in TOPIC_RECORDS.values() if cls is not AudioFrame]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()  # NaN/Infinity on the wire, as an attacker sends it


@st.composite
def mutated_records(draw: Any, cls: type) -> bytes:
    """A valid record of ``cls`` with one field (maybe nested) replaced by arbitrary JSON."""
    body = json.loads(json.dumps(_SAMPLES[cls]))
    target: Any = body
    while True:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = target[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            target = child
            continue
        target[key] = draw(json_values)
        break
    return _dumps(body)


def payloads(cls: type) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(_dumps),
        st.dictionaries(st.sampled_from(sorted(record_fields(cls)[0])), json_values).map(_dumps),
        mutated_records(cls),
        st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
        st.none(),
    )


def frames() -> st.SearchStrategy[bytes]:
    header = st.fixed_dictionaries({}, optional={
        "v": json_values, "call_id": st.text(max_size=5) | json_values, "channel": st.sampled_from(["agent", "x"]),
        "seq": json_values, "start": json_values, "encoding": st.sampled_from(["pcm16le", "mulaw", "x"]) | json_values,
        "sample_rate": st.sampled_from([8000, 16000, 12345]) | json_values, "captured_at": json_values,
    }).map(_dumps)
    raw = st.tuples(header | st.binary(max_size=60), st.binary(max_size=64)).map(
        lambda hp: b"CA" + len(hp[0]).to_bytes(2, "big") + hp[0] + hp[1])
    return raw | st.binary(max_size=100) | st.binary(max_size=60).map(lambda b: b"CA" + b)


def _check_strict(rec: Any) -> None:
    # whatever decodes re-encodes as strict JSON
    json.loads(rec.to_bytes(), parse_constant=pytest.fail)


@pytest.mark.parametrize("cls", JSON_TYPES, ids=lambda c: c.__name__)
@FUZZ
@given(data=st.data())
def test_decode_raises_only_the_decode_error(cls: type, data: Any) -> None:
    value = data.draw(payloads(cls))
    try:
        rec = decode(cls, value)
    except RecordDecodeError:
        return
    _check_strict(rec)
    assert decode(cls, rec.to_bytes()) == rec


@FUZZ
@given(data=frames())
def test_audio_frame_decode_raises_only_the_decode_error(data: bytes) -> None:
    try:
        frame = AudioFrame.from_bytes(data)
    except RecordDecodeError:
        return
    assert frame.payload and math.isfinite(frame.start) and frame.seq >= 0
    assert AudioFrame.from_bytes(frame.to_bytes()) == frame


_KIND_TYPES = list(RECORD_TYPES.items())


@pytest.mark.parametrize(("kind", "cls"), _KIND_TYPES, ids=[k for k, _ in _KIND_TYPES])
@FUZZ
@given(data=st.data())
def test_ui_live_bridge_never_raises(kind: str, cls: type, data: Any) -> None:
    state = LiveState()
    bridge = LiveBridge(state, Hub(state), UiMetrics())
    bridge.handle(kind, data.draw(payloads(cls)), now=1000.0)
    for call in state.calls():  # whatever was applied serialises as strict JSON for the browsers
        json.dumps(call.snapshot(), allow_nan=False)


class _Store:
    async def put_call(self, summary: dict) -> str:
        json.dumps(summary, allow_nan=False)
        return "inserted"


@FUZZ
@given(data=st.data())
def test_qa_sink_never_raises_or_retries(data: Any) -> None:
    from streams.contract.records import CallSummary

    sink = QaSink(_Store(), UiMetrics(), max_backoff_s=0.01)  # type: ignore[arg-type]
    result = asyncio.run(asyncio.wait_for(sink.handle_until_stored(data.draw(payloads(CallSummary)),
                                                                   asyncio.Event()), 5))
    assert result in ("inserted", "malformed")
    assert sink.metrics.sink_calls.labels("retry")._value.get() == 0


_STREAMS: list[Any] = []


def _streams_worker() -> Any:
    if not _STREAMS:
        from streams.platform.stream_settings import StreamsSettings
        from streams.worker.agents import StreamsWorker

        _STREAMS.append(StreamsWorker(StreamsSettings(broker_url="kafka://127.0.0.1:9")))
    return _STREAMS[0]


@pytest.mark.parametrize("kind", ["transcripts", "emotion", "events"])
@FUZZ
@given(data=st.data())
def test_streams_agent_handler_never_raises_on_malformed_input(kind: str, data: Any) -> None:
    worker = _streams_worker()
    topic = {v: k for k, v in worker._kinds.items()}[kind]
    cls = {"transcripts": "TranscriptSegment", "emotion": "EmotionReading", "events": "CallEvent"}[kind]
    value = data.draw(payloads(next(c for c in JSON_TYPES if c.__name__ == cls)))
    try:
        decode(next(c for c in JSON_TYPES if c.__name__ == cls), value)
    except RecordDecodeError:
        before = worker.metrics.malformed.labels(topic)._value.get()
        asyncio.run(worker.handle(topic, value, 0))
        assert worker.metrics.malformed.labels(topic)._value.get() == before + 1


@FUZZ
@given(audio=frames(), event=payloads(TOPIC_RECORDS["events"]))
def test_emotion_worker_decode_never_raises(audio: bytes, event: Any) -> None:
    metrics = EmotionMetrics()
    for topic, value in (("calls.audio", audio), ("calls.events", event)):
        rec = decode_input(metrics, "calls.audio", topic, value)
        bad = metrics.malformed.labels(topic)._value.get()
        assert (rec is None) == (bad == 1)


_ASR: list[Any] = []


class _Rec:
    def __init__(self, value: Any) -> None:
        self.value, self.offset = value, 1


def _asr_worker() -> Any:
    if not _ASR:
        from pipeline.asr.settings import AsrSettings
        from pipeline.asr.worker import AsrWorker

        _ASR.append(AsrWorker(AsrSettings(broker_url="kafka://127.0.0.1:9"), object(), EnergyVad))
    return _ASR[0]


@FUZZ
@given(audio=frames(), event=payloads(TOPIC_RECORDS["events"]))
def test_asr_worker_handlers_never_raise_on_malformed_input(audio: bytes, event: Any) -> None:
    worker = _asr_worker()
    try:
        AudioFrame.from_bytes(audio)
    except RecordDecodeError:
        asyncio.run(worker._on_audio(TopicPartition("calls.audio", 0), _Rec(audio)))
    try:
        decode(TOPIC_RECORDS["events"], event)
    except RecordDecodeError:
        asyncio.run(worker._on_event(TopicPartition("calls.events", 0), _Rec(event)))


class _OneBatchConsumer:
    """The recording sink's view of aiokafka's consumer in this unit test: hands out one batch
    (as ``getmany`` does) and counts commits, so the test sees whether the sink moved past it."""

    def __init__(self, batches: dict[TopicPartition, list[Any]]) -> None:
        self.batches, self.commits = batches, 0

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        batches, self.batches = self.batches, {}
        return batches

    async def commit(self) -> None:
        self.commits += 1


@FUZZ
@given(audio=frames(), event=payloads(TOPIC_RECORDS["events"]))
def test_recording_sink_skips_counts_and_commits_past_malformed_records(audio: bytes, event: Any) -> None:
    import tempfile

    from pipeline.recordings.settings import RecordingSettings
    from pipeline.recordings.worker import RecordingSink

    with tempfile.TemporaryDirectory() as tmp:
        sink = RecordingSink(RecordingSettings(broker_url="127.0.0.1:9", data_dir=tmp, recordings_fsync=False))
        bad = {}
        for topic, value, cls in (("calls.audio", audio, AudioFrame), ("calls.events", event, TOPIC_RECORDS["events"])):
            try:
                AudioFrame.from_bytes(value) if cls is AudioFrame else decode(cls, value)
                bad[topic] = 0
            except RecordDecodeError:
                bad[topic] = 1
        sink._consumer = _OneBatchConsumer({  # type: ignore[assignment]
            TopicPartition("calls.audio", 0): [_Rec(audio)], TopicPartition("calls.events", 0): [_Rec(event)]})
        asyncio.run(sink.step(timeout_ms=0))  # nothing may come out of it
        assert sink._consumer.commits == 1  # type: ignore[attr-defined]  # committed past the batch
        for topic, n in bad.items():
            assert sink.metrics.malformed.labels(topic)._value.get() == n
        sink._executor.shutdown(wait=True)
