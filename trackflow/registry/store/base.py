"""The abstract registry store: registry operations inside one tracking-store transaction.

The registry shares the tracking database, so one ``with store.transaction() as tx:``
block can write a run's lineage and a model version atomically: the registry client works
on a :data:`RegistryStore`, whose transactions are :class:`StoreTransaction` (tracking and
registry operations). Tracking never imports this module; the registry views the tracking
store with its own transaction class (``sql_registry.registry_store``).

What every :class:`RegistryTransaction` method guarantees, as the tracking operations do
(:mod:`trackflow.tracking.store.base`): it flushes, never commits; it returns frozen
entities (:mod:`trackflow.registry.entities`), never ORM rows; its input was validated by
the caller, and a value the database refuses (an unknown model, a duplicate version)
fails the transaction with :class:`~trackflow.exceptions.StoreError`, writing nothing of
the block. Times (``now``, ``until``, ``created_at`` ...) are integer milliseconds.
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
from trackflow.tracking.store.base import Store, TrackingTransaction

__all__ = ["RegistryTransaction", "StoreTransaction", "RegistryStore"]


class RegistryTransaction(abc.ABC):
    """Model registry operations inside one database transaction (see the module's contract)."""

    # ---- registered models -----------------------------------------------------------

    @abc.abstractmethod
    def ensure_registered_model(self, name: str, *, description: str | None, now: int) -> bool:
        """Create the model unless it exists; True if this call created it.

        Race-safe (insert-or-ignore): of concurrent callers exactly one gets True, and an
        existing model is left as it was (its description is not changed).
        """

    @abc.abstractmethod
    def lock_registered_model(self, name: str) -> bool:
        """Lock the model's row until the transaction ends; False if there is no such model.

        Serializes concurrent writers of one model (``SELECT ... FOR UPDATE`` on
        PostgreSQL; a SQLite write transaction is exclusive already). Use in a write
        transaction before reading what the write depends on (next version, stages).
        """

    @abc.abstractmethod
    def read_registered_model(self, name: str) -> RegisteredModel | None:
        """The model with its tags, aliases and latest version number, or None."""

    @abc.abstractmethod
    def read_registered_models(self) -> list[RegisteredModel]:
        """Every model (with tags, aliases and latest version number), by name."""

    @abc.abstractmethod
    def update_registered_model(self, name: str, values: Mapping[str, Any]) -> bool:
        """Set columns of a model (description, updated_at); False if there is no such model."""

    @abc.abstractmethod
    def set_registered_model_tags(self, name: str, tags: Mapping[str, str]) -> None:
        """Set tags of a model, overwriting the values of existing keys; nothing for no tags."""

    @abc.abstractmethod
    def delete_registered_model_tags(self, name: str, keys: Sequence[str]) -> int:
        """Remove tags of a model; how many of ``keys`` were set."""

    # ---- versions --------------------------------------------------------------------

    @abc.abstractmethod
    def next_model_version(self, name: str) -> int:
        """The number the model's next version gets: highest so far + 1 (1 for the first).

        Unique and gapless only while the model's row is locked by this transaction
        (:meth:`lock_registered_model`).
        """

    @abc.abstractmethod
    def create_model_version(self, values: Mapping[str, Any]) -> None:
        """Insert a version from its column values (model_name, version, run_id, source,
        payload_sha256, status, stage, description, created_at, updated_at) and optionally
        ``package_files``, a mapping of the package's files to their sha256.

        An unknown model or a version number taken already fails the transaction.
        """

    @abc.abstractmethod
    def read_model_version(self, name: str, version: int) -> ModelVersion | None:
        """One version with its tags and aliases, or None."""

    @abc.abstractmethod
    def read_model_versions(
        self, name: str, *, stages: Sequence[str] | None = None, statuses: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """Versions of a model (with tags and aliases) by number, only those in ``stages``
        and with ``statuses`` when given; ``[]`` for an unknown model."""

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int, values: Mapping[str, Any]) -> bool:
        """Set columns of a version (stage, status, description, updated_at); False if there
        is no such version. Records no transition: see :meth:`create_stage_transition`."""

    @abc.abstractmethod
    def set_model_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Set tags of a version, overwriting the values of existing keys; nothing for no tags."""

    @abc.abstractmethod
    def delete_model_version_tags(self, name: str, version: int, keys: Sequence[str]) -> int:
        """Remove tags of a version; how many of ``keys`` were set."""

    # ---- aliases ---------------------------------------------------------------------

    @abc.abstractmethod
    def set_model_alias(self, name: str, alias: str, version: int, *, now: int) -> None:
        """Point ``alias`` at ``version``, creating it or moving it in one statement: a
        concurrent reader sees the old version or the new one, never no alias."""

    @abc.abstractmethod
    def delete_model_alias(self, name: str, alias: str) -> bool:
        """Remove an alias; False if it was not set."""

    @abc.abstractmethod
    def read_model_aliases(self, name: str) -> dict[str, int]:
        """Aliases of a model, alias -> version, by alias (``{}`` for an unknown model)."""

    # ---- stage transitions -----------------------------------------------------------

    @abc.abstractmethod
    def create_stage_transition(self, values: Mapping[str, Any]) -> StageTransition:
        """Append one transition to the audit trail and return it (with its id).

        ``values``: model_name, version, from_stage (None when registered), to_stage, user,
        reason, flow_run_id, created_at, and ``details`` (a JSON-serializable mapping).
        Transitions are never changed or deleted.
        """

    @abc.abstractmethod
    def read_stage_transitions(self, name: str, *, version: int | None = None) -> list[StageTransition]:
        """The audit trail of a model (only one version's when given), oldest first."""

    # ---- deployments -----------------------------------------------------------------

    @abc.abstractmethod
    def create_deployment(self, values: Mapping[str, Any], *, replaced_status: str) -> None:
        """Record an active deployment (id, name, model_name, version, target, since,
        flow_run_id, details_json).

        The active deployment with the same name, if any, ends in this transaction with
        status ``replaced_status`` at ``since``: a name has at most one active record.
        """

    @abc.abstractmethod
    def end_deployment(self, deployment_id: str, *, status: str, until: int) -> bool | None:
        """End an active deployment with ``status`` at ``until``.

        True if it was ended, False if it had ended already (left as it was), None if
        there is no such deployment.
        """

    @abc.abstractmethod
    def read_deployment(self, deployment_id: str) -> ModelDeployment | None:
        """One deployment record, or None."""

    @abc.abstractmethod
    def read_model_deployments(self, name: str, *, version: int | None = None) -> list[ModelDeployment]:
        """Where a model's versions (only one version's when given) are or were served,
        newest first."""


class StoreTransaction(TrackingTransaction, RegistryTransaction, abc.ABC):
    """Tracking and registry operations in one transaction: what a :data:`RegistryStore`
    yields, so a version and its lineage edges are written together or not at all."""


RegistryStore = Store[StoreTransaction]
"""The tracking database as the registry sees it (see ``sql_registry.registry_store``)."""
