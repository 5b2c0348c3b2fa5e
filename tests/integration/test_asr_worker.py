"""The ASR worker through a real embedded broker with the real Whisper base model.

Real speech clips are replayed as ``calls.audio`` frames (µ-law 8 kHz and PCM16 16 kHz),
with ``calls.events`` open/end messages; the test reads ``calls.transcripts`` back.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.whisper.scoring import wer
from pipeline.asr.checkpoint import Checkpoint
from pipeline.asr.loading import load_models
from pipeline.asr.settings import AsrSettings
from pipeline.asr.worker import AsrWorker
from streams.contract.audio import AudioFrame
from streams.contract.codec import decode
from streams.contract.records import CallEvent, TranscriptSegment
from streams.platform.audio_codec import float_to_pcm16_bytes, pcm16_to_mulaw, resample
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    settings = AsrSettings(data_dir=tmp_path_factory.mktemp("asr-model"))
    return load_models(settings)


def _settings(make_settings, tmp_path: Path, **kw) -> AsrSettings:
    probe = make_settings()
    return make_settings(
        AsrSettings,
        topic_asr_checkpoints=probe.topic_audio + ".ckpt",
        asr_checkpoint_interval_s=0.3,
        asr_group_id="asr-" + probe.topic_audio.rsplit(".", 1)[-1],
        **kw,
    )


def _clip(name: str) -> tuple[np.ndarray, int]:
    if not (SPEECH / name).is_file():
        pytest.skip(f"{SPEECH / name} not found")
    data, rate = sf.read(str(SPEECH / name), dtype="float32", always_2d=True)
    return data, int(rate)


async def _produce_call(
    s: AsrSettings,
    call_id: str,
    channels: dict[str, np.ndarray],
    rate: int,
    mulaw: bool,
    part: tuple[float, float] = (0.0, 1e9),
) -> None:
    """Send a call's frames from part[0] to part[1] seconds; open/end events at its edges."""
    producer = make_producer(s)
    await start_client(producer, s)
    key = call_id.encode()
    n = int(0.2 * rate)
    total = max(len(a) for a in channels.values())
    try:
        if part[0] == 0.0:
            started = CallEvent(call_id=call_id, kind="started", ts=time.time(), language="en")
            await producer.send_and_wait(s.topic_events, started.to_bytes(), key=key)
            await producer.send_and_wait(s.topic_audio, b"not an audio frame", key=key)  # must be skipped
            await producer.send_and_wait(s.topic_events, b"{broken json", key=key)
        for seq, off in enumerate(range(0, total, n)):
            if not part[0] <= off / rate < part[1]:
                continue
            for ch, a in channels.items():
                chunk = a[off : off + n]
                if mulaw:
                    payload = pcm16_to_mulaw((np.clip(chunk, -1, 1) * 32767).astype(np.int16))
                else:
                    payload = float_to_pcm16_bytes(chunk)
                enc = "mulaw" if mulaw else "pcm16le"
                frame = AudioFrame(call_id, ch, seq, off / rate, enc, rate, payload, captured_at=time.time())
                await producer.send(s.topic_audio, frame.to_bytes(), key=key)
        if total / rate <= part[1]:
            ended = CallEvent(call_id=call_id, kind="ended", ts=time.time(), duration=total / rate)
            await producer.send_and_wait(s.topic_events, ended.to_bytes(), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _until(cond) -> None:
    while not cond():  # noqa: ASYNC110 - polling a counter owned by the worker under test
        await asyncio.sleep(0.05)


async def _read_transcripts(s: AsrSettings, until, wait_s: float) -> list[TranscriptSegment]:
    consumer = make_consumer(s, None, s.topic_transcripts)
    await start_client(consumer, s)
    out: list[TranscriptSegment] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not until(out):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                out.extend(decode(TranscriptSegment, r.value) for r in records)
    finally:
        await consumer.stop()
    return out


async def test_worker_transcribes_a_stereo_call_and_commits(make_settings, tmp_path, models):
    s = _settings(make_settings, tmp_path)
    await ensure_topics(s, [s.topic_audio, s.topic_events, s.topic_transcripts, s.topic_asr_checkpoints])
    data, rate = _clip("en_stereo_2spk_diarization.wav")
    await _produce_call(s, "call-a", {"agent": data[:, 0], "customer": data[:, 1]}, rate, mulaw=False)
    worker = AsrWorker(s, *models)
    task = asyncio.create_task(worker.run())
    try:
        segs = await _read_transcripts(s, lambda out: sum(x.is_final for x in out) >= 2, wait_s=90)
        await asyncio.sleep(1.0)  # one more checkpoint after the last final
    finally:
        worker.stop()
        await task
    finals = [x for x in segs if x.is_final]
    refs = {r["id"]: r["ref"] for r in json.loads((SPEECH / "refs.json").read_text())}
    by_channel = {ch: " ".join(x.text for x in finals if x.channel == ch) for ch in ("agent", "customer")}
    assert wer(refs["en_stereo_L"], by_channel["agent"]).rate <= 0.15, by_channel
    assert wer(refs["en_stereo_R"], by_channel["customer"]).rate <= 0.15, by_channel
    for x in finals:
        assert x.language == "en" and x.call_id == "call-a"
        assert x.segment_id == f"call-a:{x.channel}:{round(x.start * 1000)}"
        assert 0 <= x.start < x.end <= 5.01 and x.words and x.produced_at > 0 and x.audio_end_at > 0
    reg = worker.metrics.registry  # docs/metrics.md catalogue names
    assert reg.get_sample_value("callassist_records_malformed_total", {"topic": s.topic_audio}) == 1
    assert reg.get_sample_value("callassist_records_malformed_total", {"topic": s.topic_events}) == 1
    assert (
        reg.get_sample_value("callassist_errors_total", {"component": "asr", "kind": "malformed_record"}) == 2
    )
    assert reg.get_sample_value("callassist_audio_seconds_total", {"channel": "agent"}) == pytest.approx(
        5.0, abs=0.01
    )
    assert reg.get_sample_value("callassist_word_to_transcript_seconds_count", {"kind": "final"}) == 2
    assert reg.get_sample_value("callassist_asr_realtime_factor_count") >= 2
    assert reg.get_sample_value("callassist_active_calls", {"component": "asr"}) == 0  # the call ended
    # everything consumed is committed once the call's transcripts are out
    probe = make_consumer(s, s.asr_group_id)
    await start_client(probe, s)
    try:
        from aiokafka import TopicPartition

        for p in range(s.partitions):
            tp = TopicPartition(s.topic_audio, p)
            end = (await probe.end_offsets([tp]))[tp]
            assert (await probe.committed(tp) or 0) == end
    finally:
        await probe.stop()


async def test_worker_crash_and_restart_loses_and_duplicates_nothing(make_settings, tmp_path, models):
    s = _settings(make_settings, tmp_path, partitions=1)
    await ensure_topics(
        s, [s.topic_audio, s.topic_events, s.topic_transcripts, s.topic_asr_checkpoints], partitions=1
    )
    data, rate = _clip("en_jfk.flac")
    mono8k = resample(data[:, 0], rate, 8000)
    # the first 6 s now; the rest (and the end of the call) only after the crash
    await _produce_call(s, "call-r", {"agent": mono8k}, 8000, mulaw=True, part=(0.0, 6.0))

    first = AsrWorker(s, *models)
    task = asyncio.create_task(first.run())
    try:
        segs = await _read_transcripts(s, lambda out: any(x.is_final for x in out), wait_s=90)
        seen_at = first.checkpoints_written
        # wait for a checkpoint that accounts for that final (the worker counts them)
        await asyncio.wait_for(_until(lambda: first.checkpoints_written >= seen_at + 2), 30)
    finally:
        crash_at = time.time()
        first.stop(checkpoint=False)  # a crash: no final checkpoint, nothing committed on the way out
        await task
    assert any(x.is_final for x in segs)

    await _produce_call(s, "call-r", {"agent": mono8k}, 8000, mulaw=True, part=(6.0, 1e9))
    second = AsrWorker(s, *models)
    task = asyncio.create_task(second.run())
    try:
        segs = await _read_transcripts(
            s, lambda out: any(x.is_final and x.end >= 10.5 for x in out), wait_s=120
        )
    finally:
        second.stop()
        await task
    assert second.resumed_streams == 1  # the call was picked up mid-way from the checkpoint
    finals = [x for x in segs if x.is_final]
    # the final produced before the crash is not produced again, nothing is missing
    ids = [x.segment_id for x in finals]
    assert len(ids) == len(set(ids)), [
        (x.segment_id, x.text, round(x.produced_at - crash_at, 2), x.end) for x in finals
    ]
    unique = sorted({x.segment_id: x for x in finals}.values(), key=lambda x: x.start)
    for a, b in zip(unique, unique[1:], strict=False):
        assert a.end <= b.start + 1e-6, "segments overlap: audio transcribed twice"
    ref = json.loads((SPEECH / "refs.json").read_text())[0]["ref"]
    assert wer(ref, " ".join(x.text for x in unique)).rate <= 0.15, [x.text for x in unique]
    # the resume state was read from a real checkpoint record
    reader = make_consumer(s, None)
    await start_client(reader, s)
    try:
        from aiokafka import TopicPartition

        tp = TopicPartition(s.topic_asr_checkpoints, 0)
        reader.assign([tp])
        await reader.seek_to_beginning(tp)
        recs = (await reader.getmany(tp, timeout_ms=3000)).get(tp, [])
        assert recs and all(Checkpoint.from_bytes(r.value).partition == 0 for r in recs)
    finally:
        await reader.stop()
