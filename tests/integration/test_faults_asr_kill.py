"""Fault: an ASR worker is SIGKILLed mid-call; another worker of the group takes the call over.

Two real `callassist asr` processes (Whisper base, CPU) in one consumer group on the real
embedded broker; the first 30 s of the real sample call are replayed as a live call (the
ingest protocol core, paced in real time, straight into Kafka).  When the worker that owns the
call has produced finals, it is killed (no drain, no commit, no leave-group); the survivor is
assigned the partition after the session timeout, resumes from the dead worker's checkpoint
and transcribes the rest.

What the panel shows (finals deduplicated by segment_id) must match the offline transcription
of the same audio (`callassist asr transcribe`, the same streaming code): every utterance
there is covered by a live final, no audio is transcribed twice under two ids, nothing is
missing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fault_support import REPO, Bus, Proc, settings_env

from models.whisper.scoring import wer
from pipeline.asr.settings import AsrSettings
from pipeline.demo import SAMPLE_CALL
from pipeline.ingest.replay import replay_call
from pipeline.ingest.settings import IngestSettings
from streams.contract.records import TranscriptSegment
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics
from streams.platform.settings import CommonSettings

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]

SECONDS = 30.0


def active_calls(p: Proc) -> float:
    return p.metric("callassist_active_calls", component="asr")


def cut(tmp: Path) -> tuple[list[str], Path]:
    """The first SECONDS of both channels: two mono µ-law files (for the replay) and one stereo
    file with the same samples (agent left, customer right) for the offline reference."""
    mono, chans = [], []
    for src in SAMPLE_CALL:
        data, rate = sf.read(str(src), frames=int(SECONDS * 8000), dtype="int16")
        dst = tmp / src.name
        sf.write(str(dst), data, rate, subtype="ULAW")
        mono.append(str(dst))
        chans.append(sf.read(str(dst), dtype="float32")[0])
    stereo = tmp / "reference.wav"
    n = min(len(c) for c in chans)
    sf.write(str(stereo), np.stack([c[:n] for c in chans], axis=1), 8000, subtype="FLOAT")
    return mono, stereo


def overlap(a: Any, b: Any) -> float:
    return min(a.end, b["end"]) - max(a.start, b["start"])


async def test_asr_worker_killed_mid_call_the_group_takes_over_without_losing_a_final(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    probe = make_settings()
    s: AsrSettings = make_settings(
        AsrSettings, topic_asr_checkpoints=probe.topic_audio + ".ckpt", asr_checkpoint_interval_s=0.5,
        asr_group_id=f"asr-faults-{uuid.uuid4().hex[:6]}", asr_cpu_threads=1, log_level="WARNING",
        session_timeout_s=6.0, heartbeat_interval_s=1.0,
    )
    await ensure_topics(s, [*s.all_topics(), s.topic_asr_checkpoints])
    mono, stereo = cut(tmp_path)
    ports = [free_port(), free_port()]
    workers = [Proc("asr", settings_env(s, extra={"CALLASSIST_METRICS_PORT": str(port)}), port,
                    tmp_path / f"asr-{i}.log") for i, port in enumerate(ports)]
    call = f"call-{uuid.uuid4().hex[:6]}"
    try:
        for w in workers:
            w.wait_ready(180)
        async with Bus(s) as bus:
            ingest = IngestSettings(**s.model_dump(include=set(CommonSettings.model_fields)))
            replay = asyncio.ensure_future(replay_call(ingest, mono, speed=1.0, call_id=call, agent_id="agent-1",
                                                       language="en"))

            def finals() -> list[TranscriptSegment]:
                return [x for x in bus.records("transcripts") if x.is_final and x.call_id == call]

            await bus.wait_for(lambda: len(finals()) >= 2, 60, *workers)
            [owner] = [w for w in workers if active_calls(w) > 0]
            survivor = next(w for w in workers if w is not owner)
            owner.kill()
            killed_at = time.time()
            await replay
            # the survivor owns the call now and finishes it (end-of-call flush included)
            await bus.wait_for(lambda: any(x.produced_at > killed_at for x in finals()), 90, survivor)
            await bus.wait_for(lambda: active_calls(survivor) == 0, 90, survivor)
            await bus.poll(2.0)
    finally:
        for w in workers:
            w.stop()

    live = finals()
    table = "\n".join(f"{x.channel:8} {x.start:6.2f}-{x.end:6.2f} at {x.produced_at - killed_at:+6.1f}s "
                      f"{x.segment_id.rsplit(':', 1)[1]:>6} {x.text!r}" for x in live)
    shown: dict[str, TranscriptSegment] = {}
    for x in live:
        shown.setdefault(x.segment_id, x)  # the panel: the first final of a segment_id stays
    by_channel: dict[str, list[TranscriptSegment]] = {}
    for x in sorted(shown.values(), key=lambda x: x.start):
        by_channel.setdefault(x.channel, []).append(x)
    for ch, segs in by_channel.items():
        for a, b in zip(segs, segs[1:], strict=False):
            assert a.end <= b.start + 0.05, f"{ch}: {a.segment_id} and {b.segment_id} overlap:\n{table}"
    # duplicates carry identical content (at-least-once redelivery, dropped by id)
    for x in live:
        assert x.text == shown[x.segment_id].text, f"{x.segment_id} finalised twice, differently:\n{table}"

    # the reference: the same audio through the same streaming code, offline, without a fault
    cmd = [sys.executable, "-m", "pipeline.cli", "asr", "transcribe", str(stereo), "--language", "en"]
    out = await asyncio.to_thread(subprocess.run, cmd, env=settings_env(s), cwd=REPO, capture_output=True,
                                  text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    reference = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    assert reference, "the offline reference transcribed nothing"
    for ref in reference:
        covered = [x for x in by_channel.get(ref["channel"], []) if overlap(x, ref) > 0]
        assert covered, f"lost: {ref['channel']} {ref['start']:.1f}-{ref['end']:.1f} {ref['text']!r}\n{table}"
    for ch in by_channel:
        ref_text = " ".join(r["text"] for r in reference if r["channel"] == ch)
        live_text = " ".join(x.text for x in by_channel[ch])
        assert wer(ref_text, live_text).rate <= 0.2, (ch, ref_text, live_text)
