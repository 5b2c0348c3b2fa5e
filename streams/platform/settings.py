"""Typed settings shared by every callassist process.

One settings object per process, read from environment variables with the prefix
``CALLASSIST_`` (e.g. ``CALLASSIST_BROKER_URL``).  Each component subclasses
:class:`CommonSettings` in its own package (``pipeline.settings``, ``streams.platform.stream_settings``,
``assist_ui.settings``) and adds what only it needs.  Nothing else in the code base reads
``os.environ``: pass settings objects down instead.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CALLASSIST_"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # -- broker -------------------------------------------------------------
    broker_url: str = Field(
        "",
        description="Kafka bootstrap servers, e.g. 'kafka-1:9092,kafka-2:9092' (a 'kafka://' or 'tcp://' "
        "prefix is accepted). Empty: components refuse to start; `callassist demo` and "
        "`callassist broker` start the embedded broker and set it.",
    )
    broker_embedded: bool = Field(
        False,
        description="True when broker_url points at the embedded Tansu broker: enables the workarounds in "
        "streams.platform.embedded_quirks. Set by `callassist demo` / `callassist broker`, never needed in production.",
    )
    broker_connect_timeout_s: float = Field(8.0, description="Give up connecting to the broker after this long.")
    session_timeout_s: float = Field(30.0, description="Consumer group session timeout.")
    heartbeat_interval_s: float = Field(3.0, description="Consumer group heartbeat interval.")
    max_message_bytes: int = Field(1_048_576, description="Largest record a producer sends.")
    producer_idempotence: bool = Field(
        True,
        description="Idempotent producers (no duplicates or reordering from producer retries) on Apache Kafka; "
        "always off on the embedded broker, which has no idempotent producer.",
    )

    # -- topics -------------------------------------------------------------
    topic_audio: str = "calls.audio"
    topic_events: str = "calls.events"
    topic_transcripts: str = "calls.transcripts"
    topic_emotion: str = "calls.emotion"
    topic_suggestions: str = "assist.suggestions"
    topic_alerts: str = "assist.alerts"
    topic_assist_emotion: str = "assist.emotion"
    topic_qa_calls: str = "qa.calls"
    partitions: int = Field(4, description="Partitions of each topic created at start-up.")
    replication_factor: int = Field(1, description="Replication factor of topics created at start-up.")
    min_insync_replicas: int = Field(
        0, description="min.insync.replicas of topics created at start-up on Apache Kafka; 0 = the broker's default."
    )
    create_topics: bool = Field(True, description="Create missing topics at start-up.")

    # -- process ------------------------------------------------------------
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(0, description="Port of /metrics, /healthz, /readyz; 0 = no HTTP endpoint.")
    data_dir: Path = Field(Path("var"), description="Where caches and the embedded QA store live.")

    def bootstrap_servers(self) -> str:
        """broker_url without a scheme, as aiokafka wants it."""
        if not self.broker_url:
            raise BrokerNotConfigured(
                "no broker configured: set CALLASSIST_BROKER_URL (e.g. localhost:9092), "
                "or run `callassist broker` / `callassist demo` which start the embedded one"
            )
        hosts = []
        for part in self.broker_url.split(","):
            part = part.strip()
            for scheme in ("kafka://", "tcp://", "plaintext://"):
                if part.startswith(scheme):
                    part = part[len(scheme) :]
            hosts.append(part)
        return ",".join(hosts)

    def faust_broker(self) -> str:
        return ";".join(f"kafka://{h}" for h in self.bootstrap_servers().split(","))

    def all_topics(self) -> list[str]:
        return [
            self.topic_audio,
            self.topic_events,
            self.topic_transcripts,
            self.topic_emotion,
            self.topic_suggestions,
            self.topic_alerts,
            self.topic_assist_emotion,
            self.topic_qa_calls,
        ]


class BrokerNotConfigured(RuntimeError):
    pass
