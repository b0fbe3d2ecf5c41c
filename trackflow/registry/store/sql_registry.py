"""The SQLAlchemy implementation of :class:`RegistryTransaction` (SQLite and PostgreSQL).

Mixed into the tracking store's transaction class, so tracking and registry writes share
one session and one commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from trackflow.registry.entities import (
    ModelDeployment,
    ModelVersion,
    RegisteredModel,
    StageTransition,
)
from trackflow.registry.store import aliases, deployments, models, transitions, versions
from trackflow.registry.store.base import RegistryTransaction

__all__ = ["SqlRegistryTransaction"]


class SqlRegistryTransaction(RegistryTransaction):
    """Registry operations over one SQLAlchemy session; flushes, never commits."""

    session: Session

    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure_registered_model(self, name: str, *, description: str | None, now: int) -> bool:
        return models.ensure_registered_model(self.session, name, description=description, now=now)

    def lock_registered_model(self, name: str) -> bool:
        return models.lock_registered_model(self.session, name)

    def read_registered_model(self, name: str) -> RegisteredModel | None:
        return models.read_registered_model(self.session, name)

    def read_registered_models(self) -> list[RegisteredModel]:
        return models.read_registered_models(self.session)

    def update_registered_model(self, name: str, values: Mapping[str, Any]) -> bool:
        return models.update_registered_model(self.session, name, values)

    def set_registered_model_tags(self, name: str, tags: Mapping[str, str]) -> None:
        models.set_registered_model_tags(self.session, name, tags)

    def delete_registered_model_tags(self, name: str, keys: Sequence[str]) -> int:
        return models.delete_registered_model_tags(self.session, name, keys)

    def next_model_version(self, name: str) -> int:
        return versions.next_model_version(self.session, name)

    def create_model_version(self, values: Mapping[str, Any]) -> None:
        versions.create_model_version(self.session, dict(values))

    def read_model_version(self, name: str, version: int) -> ModelVersion | None:
        return versions.read_model_version(self.session, name, version)

    def read_model_versions(
        self, name: str, *, stages: Sequence[str] | None = None, statuses: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        return versions.read_model_versions(self.session, name, stages=stages, statuses=statuses)

    def update_model_version(self, name: str, version: int, values: Mapping[str, Any]) -> bool:
        return versions.update_model_version(self.session, name, version, values)

    def set_model_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        versions.set_model_version_tags(self.session, name, version, tags)

    def delete_model_version_tags(self, name: str, version: int, keys: Sequence[str]) -> int:
        return versions.delete_model_version_tags(self.session, name, version, keys)

    def set_model_alias(self, name: str, alias: str, version: int, *, now: int) -> None:
        aliases.set_model_alias(self.session, name, alias, version, now=now)

    def delete_model_alias(self, name: str, alias: str) -> bool:
        return aliases.delete_model_alias(self.session, name, alias)

    def read_model_aliases(self, name: str) -> dict[str, int]:
        return aliases.read_model_aliases(self.session, name)

    def create_stage_transition(self, values: Mapping[str, Any]) -> StageTransition:
        return transitions.create_stage_transition(self.session, values)

    def read_stage_transitions(self, name: str, *, version: int | None = None) -> list[StageTransition]:
        return transitions.read_stage_transitions(self.session, name, version=version)

    def create_deployment(self, values: Mapping[str, Any], *, replaced_status: str) -> None:
        deployments.create_deployment(self.session, dict(values), replaced_status=replaced_status)

    def end_deployment(self, deployment_id: str, *, status: str, until: int) -> bool | None:
        return deployments.end_deployment(self.session, deployment_id, status=status, until=until)

    def read_deployment(self, deployment_id: str) -> ModelDeployment | None:
        return deployments.read_deployment(self.session, deployment_id)

    def read_model_deployments(self, name: str, *, version: int | None = None) -> list[ModelDeployment]:
        return deployments.read_model_deployments(self.session, name, version=version)
