"""The one public model loader of the ASR side: the Whisper engine and the VAD factory.

Used by the live worker, ``callassist asr transcribe``, the benchmarks and the tests, so
they all load the model the same way (domain bias installed and warmed up, one shared
VAD model).  Blocking (reads and assembles model files): call it from a thread when an
event loop is running.  Importing this module loads nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.whisper.engine import WhisperEngine
    from models.whisper.vad import StreamingVad
    from pipeline.asr.settings import AsrSettings


def load_models(settings: AsrSettings) -> tuple[WhisperEngine, Callable[[], StreamingVad]]:
    """Load the engine and return it with a factory of per-channel VADs.

    A missing/broken model or a broken vocabulary file ends the process with a message
    (``SystemExit``): these are configuration errors, found at start, not mid-call.
    """
    from models.whisper.engine import WhisperEngine
    from models.whisper.resolve import ModelError
    from models.whisper.vad import StreamingVad, shared_model

    try:  # FileFormatError (a broken vocabulary file) is a ValueError: fail at start
        bias = settings.domain_bias()
        engine = WhisperEngine(settings.engine_config()).load()
    except (ModelError, ValueError) as exc:
        raise SystemExit(f"callassist asr: {exc}") from exc
    if bias is not None:
        bias.warm_up()
    engine.set_bias(bias)
    vad_model = shared_model().load()
    return engine, lambda: StreamingVad(vad_model)
