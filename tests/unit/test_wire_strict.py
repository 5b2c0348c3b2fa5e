"""Red-team findings of issue #18 (items 1, 2, 4, 5, 8): strict decoding and poison isolation.

Each case failed on main before the strict decoder: a record that passed ``decode()`` broke
a consumer later (crash loop, retry forever, invalid JSON to browsers).
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import typing
from typing import Any

import pytest

from assist_ui.fanout import Hub
from assist_ui.kafka_bridge import LiveBridge
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.samples import sample_call
from assist_ui.sink import QaSink
from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode, record_fields
from streams.contract.records import CallSummary, TranscriptSegment
from streams.contract.topics import TOPIC_RECORDS

pytestmark = pytest.mark.unit

SEG = {"call_id": "c1", "channel": "customer", "segment_id": "c1:customer:0", "is_final": True,
       "start": 0.5, "end": 1.5, "text": "hello"}
DEEP = b"[" * 30000


def seg(**over: Any) -> bytes:
    return json.dumps({**SEG, **over}).encode()


def bridge() -> LiveBridge:
    state = LiveState()
    return LiveBridge(state, Hub(state), UiMetrics(), topics={"calls.transcripts": "segment"})


# -- item 1: nested items and nesting depth -----------------------------------------
@pytest.mark.parametrize("value", [
    seg(words="abc"), seg(words=[1]), seg(words=[{}]), seg(words=[{"start": 0, "end": 1, "text": 5}]),
    seg(words=[{"start": 0, "end": 1, "text": "x", "probability": "high"}]), DEEP,
    ("{" + '"a":' * 3000 + "1" + "}" * 3000).encode(),
], ids=["str", "int-item", "empty-item", "text-int", "prob-str", "deep-array", "deep-object"])
def test_item1_bad_nested_words_are_refused_at_decode_and_skipped_by_the_bridge(value: bytes) -> None:
    with pytest.raises(RecordDecodeError):
        decode(TranscriptSegment, value)
    b = bridge()
    assert b.handle("segment", value) is False  # no TypeError / RecursionError escapes
    assert b.metrics.malformed.labels("calls.transcripts")._value.get() == 1
    assert len(b.state) == 0
    # the next good record still goes through
    assert b.handle("segment", seg(words=[{"start": 0.5, "end": 1.0, "text": "hello"}])) is True


def test_item1_valid_words_become_records() -> None:
    rec = decode(TranscriptSegment, seg(words=[{"start": 0.5, "end": 1.0, "text": "hi", "probability": 0.9}]))
    assert rec.words[0].text == "hi" and type(rec.words[0]).__name__ == "Word"
    assert rec.asdict()["words"][0].text == "hi"


# -- item 2: the QA sink ---------------------------------------------------------------
class RecordingStore:
    def __init__(self, fail_with: BaseException | None = None, failures: int = 0) -> None:
        self.fail_with, self.failures = fail_with, failures
        self.calls: list[dict] = []

    async def put_call(self, summary: dict) -> str:
        if self.fail_with is not None and self.failures:
            self.failures -= 1
            raise self.fail_with
        self.calls.append(summary)
        return "inserted"


def summary_bytes(**over: Any) -> bytes:
    body = json.loads(sample_call("c1", "agent-1", "zh", t0=1000.0)[-1].record.to_bytes())
    body.update(over)
    return json.dumps(body).encode()


@pytest.mark.parametrize("value", [
    summary_bytes(risk_score=float("nan")), summary_bytes(risk_score=float("inf")), summary_bytes(risk_score=250),
    summary_bytes(transcript=[1]), summary_bytes(alerts=[{}]), summary_bytes(emotion="x"),
], ids=["nan", "inf", "range", "transcript-int", "alert-empty", "emotion-str"])
async def test_item2_poison_summaries_are_skipped_and_later_ones_stored(value: bytes) -> None:
    store = RecordingStore()
    sink = QaSink(store, UiMetrics(), max_backoff_s=0.01)  # type: ignore[arg-type]
    stop = asyncio.Event()
    result = await asyncio.wait_for(sink.handle_until_stored(value, stop, "qa.calls[0]@1"), 2)
    assert result == "malformed" and store.calls == []
    assert sink.metrics.malformed.labels("qa.calls")._value.get() == 1
    assert await sink.handle_until_stored(summary_bytes(), stop) == "inserted"


async def test_item2_a_store_refusing_the_record_is_malformed_not_an_outage() -> None:
    store = RecordingStore(sqlite3.IntegrityError("NOT NULL constraint failed: calls.risk_score"), failures=1)
    sink = QaSink(store, UiMetrics(), max_backoff_s=0.01)  # type: ignore[arg-type]
    result = await asyncio.wait_for(sink.handle_until_stored(summary_bytes(), asyncio.Event()), 2)
    assert result == "malformed" and sink.metrics.sink_calls.labels("retry")._value.get() == 0
    assert sink.healthy


async def test_item2_a_store_outage_is_retried_and_shows_as_unhealthy() -> None:
    store = RecordingStore(ConnectionError("database down"), failures=1000)
    sink = QaSink(store, UiMetrics(), max_backoff_s=0.01, stall_after_s=0.05)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(sink.handle_until_stored(summary_bytes(), stop))
    await asyncio.sleep(0.3)
    assert not task.done() and not sink.healthy  # still retrying (nothing lost), and /readyz would say so
    store.failures = 0
    assert await asyncio.wait_for(task, 2) == "inserted"
    assert sink.healthy


# -- item 4: Infinity / NaN on every topic, strict JSON out --------------------------
def _float_fields() -> list[tuple[type, str]]:
    out = []
    for cls in TOPIC_RECORDS.values():
        if cls is AudioFrame:
            continue
        out += [(cls, name) for name, typ in record_fields(cls)[0].items() if typ is float]
    return out


@pytest.mark.parametrize(("cls", "name"), _float_fields(), ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_item4_non_finite_numbers_are_refused_on_every_topic(cls: type, name: str, constant: str) -> None:
    required = {f: _sample(t, f) for f, t in record_fields(cls)[0].items() if f not in record_fields(cls)[1]}
    good = json.dumps(required)
    decode(cls, good)  # the sample itself is valid
    bad = json.dumps({**required, name: 0.0}).replace(f'"{name}": 0.0', f'"{name}": {constant}')
    with pytest.raises(RecordDecodeError, match="finite"):
        decode(cls, bad)


def _sample(typ: Any, name: str) -> Any:
    if name == "channel":
        return "agent"
    if typing.get_origin(typ) is dict:
        return {}
    if typing.get_origin(typ) is typing.Literal:  # a vocabulary (severity, rule kind, ...)
        return typing.get_args(typ)[0]
    return {str: "x", float: 1.0, int: 1, bool: True}.get(typ, [])


def test_item4_records_never_encode_nan() -> None:
    rec = TranscriptSegment(**{**SEG, "start": math.inf})
    with pytest.raises(ValueError):
        rec.to_bytes()


def test_item4_a_live_segment_with_infinite_start_is_skipped() -> None:
    b = bridge()
    assert b.handle("segment", seg(start=float("inf"))) is False
    assert b.handle("segment", seg(end=-1.0)) is False
    assert len(b.state) == 0


def test_item4_browser_json_is_strict() -> None:
    from assist_ui.fanout import dumps

    text = dumps({"a": math.nan, "b": [math.inf], "c": 1.5})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} sent")) == {"a": None, "b": [None], "c": 1.5}


# -- item 5: the streams worker's Faust agent ---------------------------------------
@pytest.fixture(scope="module")
def streams_worker() -> Any:
    from streams.platform.stream_settings import StreamsSettings
    from streams.worker.agents import StreamsWorker

    return StreamsWorker(StreamsSettings(broker_url="kafka://127.0.0.1:9"))


@pytest.mark.parametrize("value", [DEEP, seg(words=[1]), seg(start=float("nan")), b"\xff", None],
                         ids=["deep", "words", "nan", "bytes", "tombstone"])
async def test_item5_streams_agent_skips_and_counts_poison(streams_worker: Any, value: bytes | None) -> None:
    topic = streams_worker.settings.topic_transcripts
    before = streams_worker.metrics.malformed.labels(topic)._value.get()
    await streams_worker.handle(topic, value, 0)  # must not raise (a raise restarts the agent)
    assert streams_worker.metrics.malformed.labels(topic)._value.get() == before + 1


# -- item 8: the audio frame codec -------------------------------------------------------
def frame_bytes(payload: bytes = b"\x00\x00" * 800, raw_header: bytes | None = None, **over: Any) -> bytes:
    header = {"v": 1, "call_id": "c1", "channel": "agent", "seq": 0, "start": 0.0, "encoding": "pcm16le",
              "sample_rate": 16000, "captured_at": 0.0, **over}
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return b"CA" + len(raw).to_bytes(2, "big") + raw + payload


@pytest.mark.parametrize("data", [
    frame_bytes(v="2"), frame_bytes(seq=1e30), frame_bytes(seq=True), frame_bytes(seq=1.7),
    frame_bytes(start=-1.0), frame_bytes(call_id=7), frame_bytes(sample_rate=12345), frame_bytes(payload=b""),
    frame_bytes(raw_header=b'{"seq": Infinity}'), frame_bytes(raw_header=b'{"start": NaN}'),
    frame_bytes(raw_header=b"[" * 30000), frame_bytes(call_id=None), frame_bytes(channel=["agent"]),
    frame_bytes(captured_at="now"), b"CA\xff\xff{}", b"CA", b"", None, "CA{}",
], ids=["v-str", "seq-1e30", "seq-bool", "seq-float", "start-neg", "call_id-int", "rate", "empty-payload",
        "seq-inf", "start-nan", "deep", "call_id-null", "channel-list", "captured-str", "truncated", "short",
        "empty", "none", "str"])
def test_item8_audio_frame_decode_raises_only_the_decode_error(data: Any) -> None:
    with pytest.raises(RecordDecodeError):
        AudioFrame.from_bytes(data)


def test_item8_a_good_frame_still_decodes() -> None:
    frame = AudioFrame.from_bytes(frame_bytes(seq=3, start=1.5))
    assert (frame.seq, frame.start, frame.sample_rate, len(frame.payload)) == (3, 1.5, 16000, 1600)
    assert AudioFrame.from_bytes(frame.to_bytes()) == frame


def test_summary_round_trip_still_works() -> None:
    raw = summary_bytes()
    assert decode(CallSummary, raw).call_id == "c1"
