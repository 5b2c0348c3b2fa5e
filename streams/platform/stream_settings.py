"""Settings of the streams worker (env prefix ``CALLASSIST_``, e.g. CALLASSIST_STREAMS_KB_PATH)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from streams.platform.settings import CommonSettings

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class StreamsSettings(CommonSettings):
    streams_app_id: str = Field(
        "callassist-streams",
        description="Faust app id: the consumer group of the workers and the prefix of the table changelog topic.",
    )
    streams_kb_path: Path = Field(DATA_DIR / "kb.yaml", description="Knowledge base file (reloaded when it changes).")
    streams_rules_path: Path = Field(DATA_DIR / "rules.yaml", description="Compliance rule file (reloaded when it changes).")
    streams_match_partials: bool = Field(
        True, description="Match the stable text of partial transcripts (provisional alerts, early suggestions); "
        "false: finals only.",
    )
    streams_reload_interval_s: float = Field(2.0, description="How often the KB and rule files are checked for changes.")
    streams_metrics_interval_s: float = Field(
        5.0, description="How often consumer lag and active calls are sampled into their gauges."
    )
    streams_state_retention_s: float = Field(
        600.0, description="Keep an ended call's state this long (late transcript segments still update its QA record)."
    )
    streams_idle_timeout_s: float = Field(
        7200.0, description="Drop a call's state after this long without any record and no 'ended' event."
    )
    streams_max_calls: int = Field(
        20000, description="Calls whose state one worker keeps per partition; the least recently active go first."
    )
