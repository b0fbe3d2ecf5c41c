"""Settings read from the environment (prefix ``TRACKFLOW_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TrackflowSettings", "get_settings"]


class TrackflowSettings(BaseSettings):
    """Where trackflow keeps its data.

    ``TRACKFLOW_HOME`` holds the embedded defaults: a SQLite database and a local artifact
    folder. ``TRACKFLOW_TRACKING_URI`` takes any SQLAlchemy URL
    (``postgresql+psycopg://...`` for teams) and ``TRACKFLOW_ARTIFACT_ROOT`` any fsspec URL.
    """

    model_config = SettingsConfigDict(env_prefix="TRACKFLOW_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".trackflow")
    tracking_uri: str | None = None
    artifact_root: str | None = None
    metric_flush_size: int = Field(default=5000, ge=1)
    metric_flush_interval: float = Field(default=2.0, gt=0)
    sqlite_busy_timeout: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _fill_defaults(self) -> "TrackflowSettings":
        self.home = Path(self.home).expanduser()
        if not self.tracking_uri:
            self.tracking_uri = f"sqlite:///{self.home / 'trackflow.db'}"
        if not self.artifact_root:
            self.artifact_root = str(self.home / "artifacts")
        return self


def get_settings() -> TrackflowSettings:
    """Read the settings afresh from the environment."""
    return TrackflowSettings()
