"""The SQLAlchemy implementation of the registry store (SQLite and PostgreSQL).

Every registry operation is written once, in the operation class of its entity's module
(:class:`~.models.ModelOps`, :class:`~.versions.VersionOps` ...). They are combined with
the tracking operations into :class:`SqlStoreTransaction`, and :func:`registry_store`
views the process's tracking store with it: one session and one commit for both.
"""

from __future__ import annotations

from trackflow.registry.store.aliases import AliasOps
from trackflow.registry.store.base import RegistryStore, RegistryTransaction, StoreTransaction
from trackflow.registry.store.deployments import DeploymentOps
from trackflow.registry.store.models import ModelOps
from trackflow.registry.store.transitions import TransitionOps
from trackflow.registry.store.versions import VersionOps
from trackflow.tracking.store.base import TrackingStore
from trackflow.tracking.store.sqlalchemy_store import SqlAlchemyStore, SqlTrackingTransaction

__all__ = ["SqlRegistryTransaction", "SqlStoreTransaction", "registry_store"]


class SqlRegistryTransaction(ModelOps, VersionOps, AliasOps, TransitionOps, DeploymentOps, RegistryTransaction):
    """Registry operations over one SQLAlchemy session; flushes, never commits."""


class SqlStoreTransaction(SqlTrackingTransaction, SqlRegistryTransaction, StoreTransaction):
    """Tracking and registry operations over one SQLAlchemy session; flushes, never commits."""


def registry_store(store: TrackingStore) -> RegistryStore:
    """``store``'s database (same engines and write lock) with registry transactions.

    Raises TypeError for a store this module cannot extend (only the SQLAlchemy one).
    """
    if not isinstance(store, SqlAlchemyStore):
        raise TypeError(f"The model registry needs the SQLAlchemy store, not {type(store).__name__}.")
    return store.with_transactions(SqlStoreTransaction)
