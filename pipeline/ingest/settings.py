"""Settings of the ingest gateway and of file replay (env prefix ``CALLASSIST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from streams.platform.settings import CommonSettings


class IngestSettings(CommonSettings):
    # -- websocket endpoint -------------------------------------------------
    ingest_host: str = Field(
        default="127.0.0.1", description="Interface the gateway listens on (0.0.0.0 in a pod)."
    )
    ingest_port: int = Field(default=8090, description="Port of the audio websocket endpoint.")
    ingest_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated shared secrets; a client must present one (Authorization: Bearer, "
        "?token=, the open message's `token`, or Twilio customParameters.token).",
    )
    ingest_allow_anonymous: bool = Field(
        default=False,
        description="Accept clients without a token. Only for a laptop; the gateway refuses to start "
        "with no tokens unless this is set.",
    )

    # -- framing and limits ---------------------------------------------------
    ingest_frame_ms: int = Field(default=200, description="Duration of each calls.audio record (100-500 ms).")
    ingest_max_frame_ms: int = Field(
        default=1000,
        description="Largest audio duration one incoming message may carry; larger ones are rejected.",
    )
    ingest_max_message_bytes: int = Field(
        default=128 * 1024,
        description="Websocket message size limit; larger messages close the connection (1009).",
    )
    ingest_open_timeout_s: float = Field(
        default=10.0, description="Close a connection that sends no open message in time."
    )
    ingest_idle_timeout_s: float = Field(
        default=60.0, description="End an open call that sends no message for this long (a held line sends silence)."
    )
    ingest_auth_failures: int = Field(
        default=5, description="Wrong tokens from one address before it is refused (HTTP 429) for a while."
    )
    ingest_auth_backoff_s: float = Field(default=60.0, description="How long an address is refused after that.")
    ingest_max_calls: int = Field(default=1000, description="Concurrent calls one gateway accepts.")
    ingest_max_errors: int = Field(
        default=20, description="Protocol errors one connection may cause before it is closed."
    )
    ingest_twilio_inbound_channel: str = Field(
        default="customer",
        description="Channel of Twilio's `inbound` track (the caller); `outbound` is the other one.",
    )
    ingest_twilio_max_gap_fill_s: float = Field(
        default=5.0,
        description="Longest silence inserted for a gap in Twilio media timestamps (per message).",
    )
    ingest_recent_call_ids: int = Field(
        default=100_000,
        description="Ended call ids remembered to refuse a reused id (whose seq would restart at 0).",
    )

    # -- backpressure -------------------------------------------------------
    ingest_buffer_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Bound on records waiting for the producer; full = connections wait.",
    )
    ingest_enqueue_timeout_s: float = Field(
        default=2.0,
        description="How long a connection waits for buffer space before an audio frame is dropped "
        '(counted in callassist_frames_dropped_total{reason="backpressure"} and logged).',
    )
    ingest_delivery_timeout_s: float = Field(
        default=120.0,
        description="How long a produced frame may wait for the broker (a restart, a leader election) "
        'before it is given up, counted in callassist_frames_dropped_total{reason="broker"} and logged. '
        "Frames keep arriving meanwhile: the buffer (ingest_buffer_bytes) bounds what is held.",
    )
    ingest_linger_ms: int = Field(
        default=10, description="Producer linger: frames of many calls share one request."
    )
    ingest_drain_timeout_s: float = Field(
        default=15.0, description="On shutdown, wait this long for buffered records."
    )

    # -- replay ---------------------------------------------------------------
    ingest_replay_chunk_ms: int = Field(
        default=100, description="Audio per websocket message sent by replay."
    )

    @field_validator("ingest_frame_ms")
    @classmethod
    def _frame_ms_range(cls, v: int) -> int:
        if not 100 <= v <= 500:
            raise ValueError("ingest_frame_ms must be between 100 and 500")
        return v

    @field_validator("ingest_twilio_inbound_channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if v not in ("agent", "customer"):
            raise ValueError("ingest_twilio_inbound_channel must be 'agent' or 'customer'")
        return v

    def tokens(self) -> list[str]:
        return [t.strip() for t in self.ingest_tokens.get_secret_value().split(",") if t.strip()]
