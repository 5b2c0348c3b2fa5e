"""`callassist demo` as a user runs it: started from a terminal, stopped with Ctrl-C.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group.  The demo must then stop
its components while the broker still runs (so they drain instead of retrying into a dead
broker), stop the broker last, exit 0, and leave no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from streams.platform.broker import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("broker", ["tansu", "kafka"])
def test_ctrl_c_on_the_process_group_stops_everything_cleanly(tmp_path: Path, broker: str) -> None:
    env = {**os.environ, "CALLASSIST_DATA_DIR": str(tmp_path), "CALLASSIST_UI_PORT": str(free_port()),
           "CALLASSIST_INGEST_PORT": str(free_port())}
    env.pop("CALLASSIST_BROKER_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "demo", "--no-replay", "--broker", broker], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    assert lines and "Press Ctrl-C" in lines[-1], "".join(lines)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 6, children  # broker + ingest, asr, emotion, streams, ui

    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "demo stopped" in rest
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
    assert "did not stop" not in rest, rest
    for log in (tmp_path / "demo-logs").glob("*.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"
