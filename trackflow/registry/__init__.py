"""The model registry: registered models, versions, stages, aliases and deployments.

Reached as ``Client().registry``: the tracking client does not import the registry;
importing this package registers the factory that ``Client.registry`` calls (``import
trackflow`` does so). Only :mod:`trackflow.tracking.hooks` is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trackflow.tracking.hooks import register_registry_factory

if TYPE_CHECKING:
    from trackflow.registry.client import RegistryClient

__all__: list[str] = []


def _open_registry(client: Any, store: Any) -> RegistryClient:
    """The registry client over a tracking client and its store."""
    from trackflow.registry.client import RegistryClient

    return RegistryClient(client, store)


register_registry_factory(_open_registry)
