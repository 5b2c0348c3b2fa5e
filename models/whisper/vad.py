"""Streaming Silero VAD on the ONNX model that ships inside faster-whisper.

faster-whisper bundles Silero VAD v6 as ``faster_whisper/assets/silero_vad_v6.onnx`` and
runs it with onnxruntime, so we use that file directly instead of the ``silero-vad`` PyPI
package (which needs PyTorch, ~800 MB, for the same model).

The model is an LSTM over 32 ms windows (512 samples at 16 kHz) with 64 samples of left
context; its state carries across windows (measured: restarting it with a fresh state
changes probabilities by up to 0.09 even 100 windows later).  So the stream keeps the
LSTM state, and :meth:`StreamingVad.state` / :meth:`StreamingVad.restore` let a worker
checkpoint it and resume bit-for-bit after a restart.
"""

from __future__ import annotations

import base64
import functools
import os
import threading
from dataclasses import dataclass

import numpy as np

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64
SAMPLE_RATE = 16000
STATE_SIZE = 128


def model_path() -> str:
    from faster_whisper.utils import get_assets_path

    return os.path.join(get_assets_path(), "silero_vad_v6.onnx")


class VadModel:
    """The ONNX session; one per process, shared by every stream (``run`` is thread-safe)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or model_path()
        self._session = None
        self._lock = threading.Lock()

    def load(self) -> VadModel:
        with self._lock:
            if self._session is None:
                import onnxruntime

                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                opts.log_severity_level = 4
                self._session = onnxruntime.InferenceSession(
                    self.path, providers=["CPUExecutionProvider"], sess_options=opts
                )
        return self

    def run(
        self, windows: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """windows: (n, CONTEXT + WINDOW) float32 -> (probs (n,), h, c)."""
        if self._session is None:
            raise RuntimeError("VadModel.run() before load()")
        probs, h, c = self._session.run(None, {"input": windows, "h": h, "c": c})
        return probs.reshape(-1).astype(np.float32), h, c


@functools.lru_cache(maxsize=1)
def shared_model() -> VadModel:
    """The process-wide VAD model (not loaded: call ``.load()`` at worker start)."""
    return VadModel()


@dataclass
class VadState:
    """Where a stream's VAD stands: next window index, LSTM state and the 64-sample context."""

    next_window: int
    h: np.ndarray
    c: np.ndarray
    context: np.ndarray

    def to_dict(self) -> dict:
        return {
            "w": self.next_window,
            "s": base64.b64encode(
                np.concatenate([self.h.ravel(), self.c.ravel(), self.context]).astype("<f4").tobytes()
            ).decode(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> VadState:
        arr = np.frombuffer(base64.b64decode(d["s"]), dtype="<f4").astype(np.float32)
        if arr.size != 2 * STATE_SIZE + CONTEXT:
            raise ValueError("bad VAD state size")
        return cls(
            next_window=int(d["w"]),
            h=arr[:STATE_SIZE].reshape(1, 1, STATE_SIZE).copy(),
            c=arr[STATE_SIZE : 2 * STATE_SIZE].reshape(1, 1, STATE_SIZE).copy(),
            context=arr[2 * STATE_SIZE :].copy(),
        )


class StreamingVad:
    """Speech probability per 32 ms window for one channel, fed incrementally.

    Windows sit on a fixed grid of absolute sample positions (window ``k`` covers samples
    ``[k*512, (k+1)*512)`` of the channel's 16 kHz timeline), so the same audio gives the
    same windows however it was framed.
    """

    def __init__(self, model: VadModel, first_window: int = 0) -> None:
        self.model = model
        self.reset(first_window)

    @property
    def next_window(self) -> int:
        return self._state.next_window

    def state(self) -> VadState:
        s = self._state
        return VadState(s.next_window, s.h.copy(), s.c.copy(), s.context.copy())

    def restore(self, state: VadState) -> None:
        self._state = VadState(state.next_window, state.h.copy(), state.c.copy(), state.context.copy())

    def reset(self, next_window: int) -> None:
        """Fresh LSTM state, starting at window ``next_window`` (a new stream)."""
        self._state = VadState(
            next_window=next_window,
            h=np.zeros((1, 1, STATE_SIZE), np.float32),
            c=np.zeros((1, 1, STATE_SIZE), np.float32),
            context=np.zeros(CONTEXT, np.float32),
        )

    def process(self, audio: np.ndarray, audio_start: int) -> np.ndarray:
        """Probabilities of every complete window in ``audio`` from ``next_window`` on.

        ``audio`` holds samples from absolute position ``audio_start``; it must reach
        back to the start of ``next_window``.  Returns one probability per processed window.
        """
        s = self._state
        first = s.next_window * WINDOW - audio_start
        if first < 0:
            raise ValueError("VAD audio does not reach back to the next window")
        n = (len(audio) - first) // WINDOW
        if n <= 0:
            return np.zeros(0, np.float32)
        frames = audio[first : first + n * WINDOW].astype(np.float32, copy=False).reshape(n, WINDOW)
        ctx = np.empty((n, CONTEXT), np.float32)
        ctx[0] = s.context
        if n > 1:
            ctx[1:] = frames[:-1, -CONTEXT:]
        probs, h, c = self.model.run(np.concatenate([ctx, frames], axis=1), s.h, s.c)
        self._state = VadState(s.next_window + n, h, c, frames[-1, -CONTEXT:].copy())
        return probs
