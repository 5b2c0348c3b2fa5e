"""Settings of the recording sink (env prefix ``CALLASSIST_``, e.g. CALLASSIST_RECORDINGS_DIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from streams.platform.recording_store import RecordingStore, make_store
from streams.platform.settings import CommonSettings


class RecordingSettings(CommonSettings):
    recordings_dir: Path | None = Field(
        None,
        description="Local recording store: one folder per call with agent.flac, customer.flac and meta.json "
        "(default <data_dir>/recordings).",
    )
    recordings_spool_dir: Path | None = Field(
        None,
        description="Durable spool of frames received but not yet written as FLAC, survives a restart "
        "(default <data_dir>/recordings-spool).",
    )
    recordings_group_id: str = Field("callassist-recordings", description="Consumer group of the recording sink.")
    recordings_max_poll_records: int = Field(1000, description="Audio records per poll (one fsync + commit each).")
    recordings_end_grace_s: float = Field(3.0, description="After a call ended, wait this long for late audio.")
    recordings_idle_timeout_s: float = Field(
        300.0, description="Finalise a call with no end event after this long without audio."
    )
    recordings_retention_days: float = Field(
        0.0, ge=0.0, description="Delete finalised recordings older than this (0 = keep for ever)."
    )
    recordings_backend: Literal["local", "s3"] = Field(
        "local", description="Where finished recordings go: the local folder, or an S3-compatible bucket."
    )
    recordings_s3_bucket: str = Field("", description="Bucket of the s3 backend.")
    recordings_s3_prefix: str = Field("recordings/", description="Key prefix inside the bucket.")
    recordings_s3_endpoint_url: str = Field("", description="Endpoint of a non-AWS store (MinIO, Ceph, OSS …).")
    recordings_s3_region: str = Field("", description="Region of the bucket (AWS).")
    recordings_fsync: bool = Field(True, description="fsync the spool before committing offsets (durability).")

    @property
    def store_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def spool_dir(self) -> Path:
        return self.recordings_spool_dir or self.data_dir / "recordings-spool"

    def make_store(self) -> RecordingStore:
        return make_store(self.recordings_backend, self.store_dir, self.recordings_s3_bucket,
                          self.recordings_s3_prefix, self.recordings_s3_endpoint_url, self.recordings_s3_region)
