"""Settings of ``callassist ui`` (env prefix ``CALLASSIST_``, e.g. ``CALLASSIST_UI_PORT``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from streams.platform.settings import CommonSettings
from streams.platform.stream_settings import DATA_DIR as STREAMS_DATA_DIR

#: the demo users shipped with the package (tokens documented in docs/ui.md); never for production
DEMO_USERS_FILE = Path(__file__).with_name("demo_users.json")


class UiSettings(CommonSettings):
    # -- serving -------------------------------------------------------------
    ui_host: str = Field("127.0.0.1", description="Address the pages and /ws listen on.")
    ui_port: int = Field(8080, description="Port of the pages and /ws; 0 picks a free port.")
    ui_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to open /ws besides the server's own host (JSON list). Browsers "
        "send Origin; a page on another site must not be able to ride a user's socket.",
    )

    # -- auth ----------------------------------------------------------------
    ui_users_file: Path | None = Field(
        None, description="JSON users file (id, name, role, token_sha256 or token). See docs/ui.md."
    )
    ui_users_json: str = Field(
        "", description="The same JSON inline (e.g. from a Kubernetes Secret); wins over ui_users_file."
    )
    ui_auth_timeout_s: float = Field(5.0, description="A socket must authenticate within this long.")

    # -- fan-out -------------------------------------------------------------
    ui_client_queue_max: int = Field(
        1000, description="Messages queued per socket; a client further behind is dropped and reconnects."
    )
    ui_drop_grace_s: float = Field(
        5.0, description="A dropped slow client gets this long to read its close frame before the TCP cut."
    )
    ui_wall_interval_s: float = Field(0.5, description="Supervisor wall updates are coalesced over this long.")
    ui_max_ws_message_bytes: int = Field(65536, description="Largest message a browser may send.")

    # -- live state ------------------------------------------------------------
    ui_ended_retention_s: float = Field(600.0, description="Ended calls stay on the panels this long.")
    ui_idle_timeout_s: float = Field(
        3 * 3600.0, description="A call with no record for this long is dropped (its end event was lost)."
    )
    ui_max_live_calls: int = Field(20000, description="Bound on calls kept in memory (oldest evicted).")
    ui_max_segments_per_call: int = Field(4000, description="Bound on transcript segments kept per live call.")
    ui_consumer_start: str = Field(
        "lookback",
        description="Where the live bridge starts reading: 'lookback' (ui_lookback_s back, so a restarted "
        "server shows calls in progress), 'earliest' or 'latest'.",
    )
    ui_lookback_s: float = Field(2 * 3600.0, description="How far back 'lookback' starts.")

    # -- knowledge base (agent search) ---------------------------------------------
    streams_kb_path: Path = Field(
        STREAMS_DATA_DIR / "kb.yaml",
        description="Knowledge base the agent panel searches: the same setting (CALLASSIST_STREAMS_KB_PATH) "
        "and file the streams worker suggests from; reloaded when it changes.",
    )

    # -- QA store ------------------------------------------------------------
    ui_db_url: str = Field(
        "", description="postgresql://user@host:5432/db for PostgreSQL; empty = SQLite file ui_sqlite_path."
    )
    ui_sqlite_path: Path | None = Field(None, description="SQLite file; default <data_dir>/qa.sqlite3.")
    ui_pg_schema: str = Field("", description="PostgreSQL schema for the QA tables (default: public).")
    ui_sink_enabled: bool = Field(True, description="Run the qa.calls sink inside `callassist ui`.")
    ui_sink_group: str = Field("callassist-qa-sink", description="Consumer group of the qa.calls sink.")
    recordings_dir: Path | None = Field(
        None, description="The recording sink's store (same setting as `callassist recordings`); default <data_dir>/recordings."
    )
    recordings_backend: str = Field("local", description="local | s3 (same settings as `callassist recordings`).")
    recordings_s3_bucket: str = Field("", description="Bucket of the s3 recording backend.")
    recordings_s3_prefix: str = Field("recordings/", description="Key prefix inside the bucket.")
    recordings_s3_endpoint_url: str = Field("", description="Endpoint of a non-AWS S3-compatible store.")
    recordings_s3_region: str = Field("", description="Region of the bucket (AWS).")
    ui_playback_secret: SecretStr = Field(
        SecretStr(""), description="Key that signs recording playback tickets; every UI replica needs the same one "
        "(a ticket's GET may reach another replica than its POST). Empty: a random key per process (one replica).",
    )
    ui_bridge_enabled: bool = Field(True, description="Consume the live topics (false: QA pages only).")

    def recordings_path(self) -> Path:
        return self.recordings_dir or (self.data_dir / "recordings")

    def sqlite_path(self) -> Path:
        return self.ui_sqlite_path or (self.data_dir / "qa.sqlite3")
