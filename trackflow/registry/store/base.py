"""The abstract registry store: registry operations inside one tracking-store transaction.

The SQLAlchemy store's transaction class implements both
:class:`~trackflow.tracking.store.base.TrackingTransaction` and :class:`RegistryTransaction`,
so one ``with store.transaction() as tx:`` block can write a run's lineage and a model
version atomically. Calls flush, never commit; they return frozen entities only.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from trackflow.registry.entities import (
    ModelDeployment,
    ModelVersion,
    RegisteredModel,
    StageTransition,
)

__all__ = ["RegistryTransaction"]


class RegistryTransaction(abc.ABC):
    """Model registry operations inside one database transaction."""

    # registered models
    @abc.abstractmethod
    def ensure_registered_model(self, name: str, *, description: str | None, now: int) -> bool:
        """Create the model row unless it exists (race-safe); True if it was created."""

    @abc.abstractmethod
    def lock_registered_model(self, name: str) -> bool:
        """Lock the model row until the transaction ends (FOR UPDATE); False if there is none."""

    @abc.abstractmethod
    def read_registered_model(self, name: str) -> RegisteredModel | None:
        """One model with its tags, aliases and latest version, or None."""

    @abc.abstractmethod
    def read_registered_models(self) -> list[RegisteredModel]:
        """Every model, by name."""

    @abc.abstractmethod
    def update_registered_model(self, name: str, values: Mapping[str, Any]) -> bool:
        """Update columns (description, updated_at); False if the model does not exist."""

    @abc.abstractmethod
    def set_registered_model_tags(self, name: str, tags: Mapping[str, str]) -> None:
        """Set tags of a model (overwrites)."""

    @abc.abstractmethod
    def delete_registered_model_tags(self, name: str, keys: Sequence[str]) -> int:
        """Remove tags of a model; how many existed."""

    # versions
    @abc.abstractmethod
    def next_model_version(self, name: str) -> int:
        """max(version) + 1 of a model (1 for the first); call with the model row locked."""

    @abc.abstractmethod
    def create_model_version(self, values: Mapping[str, Any]) -> None:
        """Insert a version row from column values (validated by the caller)."""

    @abc.abstractmethod
    def read_model_version(self, name: str, version: int) -> ModelVersion | None:
        """One version with its tags and aliases, or None."""

    @abc.abstractmethod
    def read_model_versions(
        self, name: str, *, stages: Sequence[str] | None = None, statuses: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """Versions of a model by number, optionally only in ``stages`` / with ``statuses``."""

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int, values: Mapping[str, Any]) -> bool:
        """Update columns (stage, status, description, updated_at); False if there is none."""

    @abc.abstractmethod
    def set_model_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Set tags of a version (overwrites)."""

    @abc.abstractmethod
    def delete_model_version_tags(self, name: str, version: int, keys: Sequence[str]) -> int:
        """Remove tags of a version; how many existed."""

    # aliases
    @abc.abstractmethod
    def set_model_alias(self, name: str, alias: str, version: int, *, now: int) -> None:
        """Point ``alias`` at ``version`` (insert or move, atomically)."""

    @abc.abstractmethod
    def delete_model_alias(self, name: str, alias: str) -> bool:
        """Remove an alias; False if it was not set."""

    @abc.abstractmethod
    def read_model_aliases(self, name: str) -> dict[str, int]:
        """Aliases of a model: alias -> version, by alias."""

    # stage transitions
    @abc.abstractmethod
    def create_stage_transition(self, values: Mapping[str, Any]) -> StageTransition:
        """Record one transition (model_name, version, from/to stage, user, reason, ...)."""

    @abc.abstractmethod
    def read_stage_transitions(self, name: str, *, version: int | None = None) -> list[StageTransition]:
        """The audit trail of a model (or one version), oldest first."""

    # deployments
    @abc.abstractmethod
    def create_deployment(self, values: Mapping[str, Any], *, replaced_status: str) -> None:
        """Record an active deployment, ending the active one with the same name."""

    @abc.abstractmethod
    def end_deployment(self, deployment_id: str, *, status: str, until: int) -> bool | None:
        """End an active deployment: True if ended, False if not active, None if unknown."""

    @abc.abstractmethod
    def read_deployment(self, deployment_id: str) -> ModelDeployment | None:
        """One deployment record, or None."""

    @abc.abstractmethod
    def read_model_deployments(self, name: str, *, version: int | None = None) -> list[ModelDeployment]:
        """Where a model's versions are (or were) served, newest first."""
