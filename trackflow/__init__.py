"""trackflow: tracked, reproducible ML pipelines on Prefect 3.

``from trackflow import flow, task`` replaces Prefect's decorators and tracks every run;
``trackflow.start_run`` and ``trackflow.log_*`` track code outside Prefect; ``Client``
reads and writes everything stored.
"""

from __future__ import annotations

from typing import Any

from trackflow.exceptions import (
    AlreadyExistsError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    TrackflowError,
    UnsafeModelError,
)
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.fluent import (
    ActiveRun,
    active_run,
    active_run_id,
    end_run,
    get_client,
    log_artifact,
    log_batch,
    log_dataset,
    log_dict,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    note,
    set_tag,
    set_tags,
    start_run,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ActiveRun",
    "Client",
    "RunStatus",
    "active_run",
    "active_run_id",
    "end_run",
    "flow",
    "get_client",
    "load_model",
    "log_artifact",
    "log_batch",
    "log_dataset",
    "log_dict",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "note",
    "set_tag",
    "set_tags",
    "start_run",
    "task",
    "TrackflowError",
    "InvalidInputError",
    "NotFoundError",
    "AlreadyExistsError",
    "ConflictError",
    "SchemaVersionError",
    "StoreError",
    "IntegrityError",
    "UnsafeModelError",
]

_LAZY = {
    "flow": ("trackflow.flows.decorators", "flow"),
    "task": ("trackflow.flows.decorators", "task"),
    "load_model": ("trackflow.registry.loading", "load_model"),
}


def __getattr__(name: str) -> Any:
    """Import Prefect-dependent parts on first use, so `import trackflow` stays light."""
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trackflow' has no attribute {name!r}")
