"""Recording store and spool: time-axis layout, late audio merge, torn spool tails, retention."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from streams.platform import recording_spool as spool
from streams.platform.recording_spool import SpooledFrame
from streams.platform.recording_store import RecordingStore, call_dir_name

pytestmark = pytest.mark.unit


def _pcm(value: int, n: int) -> bytes:
    return np.full(n, value, np.int16).tobytes()


def test_frames_are_laid_out_on_the_call_time_axis_with_gaps_silent(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    frames = {0: SpooledFrame(0, 0.0, 8000, "pcm16le", _pcm(100, 800)),
              2: SpooledFrame(2, 0.2, 8000, "pcm16le", _pcm(300, 800))}  # seq 1 (0.1-0.2 s) missing
    store.write_call("c1", {"agent": frames})
    got = store.read_channel("c1", "agent")
    assert got is not None and got[1] == 8000
    y = got[0]
    assert y.size == 2400 and (y[:800] == 100).all() and (y[800:1600] == 0).all() and (y[1600:] == 300).all()
    # the late frame arrives after the call was written: merged in place, nothing else changes
    store.write_call("c1", {"agent": {1: SpooledFrame(1, 0.1, 8000, "pcm16le", _pcm(200, 800))}})
    y2 = store.read_channel("c1", "agent")
    assert y2 is not None and (y2[0][800:1600] == 200).all() and (y2[0][:800] == 100).all()
    assert store.read_channel("c1", "customer") is None


def test_torn_spool_tail_is_ignored_and_duplicates_collapse(tmp_path: Path) -> None:
    path = tmp_path / "agent.spool"
    rec = [spool.encode(k, k * 0.1, 8000, "mulaw", bytes([k]) * 800) for k in range(3)]
    spool.append(path, rec + [rec[1]])
    with open(path, "ab") as f:
        f.write(rec[2][:50])  # crash mid-write
    frames = spool.read(path)
    assert sorted(frames) == [0, 1, 2] and frames[2].payload == bytes([2]) * 800


def test_call_dir_names_are_safe_and_distinct() -> None:
    assert call_dir_name("call-1.a_b") == "call-1.a_b"
    odd = ["../etc", "a/b", "a_b/", "通话1", ".hidden"]
    names = [call_dir_name(c) for c in odd]
    assert len(set(names)) == len(odd)
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_retention_deletes_only_old_recordings(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    for cid in ("old", "new"):
        store.write_call(cid, {"agent": {0: SpooledFrame(0, 0.0, 8000, "pcm16le", _pcm(1, 80))}})
    meta = store.call_dir("old") / "meta.json"
    meta.write_text(meta.read_text().replace('"written_at": ', '"written_at": 1, "x": '))
    assert store.expire(0) == []
    assert store.expire(30) == ["old"]
    assert store.meta("new") is not None and not store.call_dir("old").exists()
    assert os.listdir(tmp_path) == ["new"]
