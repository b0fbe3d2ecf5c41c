"""Frozen entities of the model registry, handed to users instead of ORM rows.

Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from trackflow.registry.stages import Stage

__all__ = [
    "Stage",
    "VersionStatus",
    "RegisteredModel",
    "ModelVersion",
    "StageTransition",
    "ModelDeployment",
]


class VersionStatus(str, Enum):
    """Registration state of a version: only READY versions resolve and load."""

    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    READY = "READY"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: its description, tags, aliases and newest version number."""

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def uri(self) -> str:
        """``models:/<name>/latest``."""
        return f"models:/{self.name}/latest"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: its package, run, stage and aliases."""

    name: str
    version: int
    run_id: str | None
    source: str
    payload_sha256: str | None
    status: VersionStatus
    stage: Stage
    description: str | None
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    package_files: dict[str, str] | None = None
    """sha256 of every file of the package (path inside the package -> digest), recorded
    at registration and checked before loading; None for versions registered before."""

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``: loads exactly this version."""
        return f"models:/{self.name}/{self.version}"

    @property
    def ref(self) -> str:
        """The lineage node of this version, ``model:<name>/<version>``."""
        return f"model:{self.name}/{self.version}"


@dataclass(frozen=True)
class StageTransition:
    """One audited stage change: which version, from where to where, who, when and why."""

    id: int
    name: str
    version: int
    from_stage: Stage | None
    to_stage: Stage
    user: str | None
    reason: str | None
    flow_run_id: str | None
    details: dict[str, Any]
    created_at: datetime

    @property
    def when(self) -> datetime:
        """When the transition happened (same as ``created_at``)."""
        return self.created_at


@dataclass(frozen=True)
class ModelDeployment:
    """Where a model version is (or was) served."""

    id: str
    name: str
    model_name: str
    version: int
    target: str
    status: str
    since: datetime
    until: datetime | None
    flow_run_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
