"""trackflow: tracked, reproducible ML pipelines on Prefect 3.

``from trackflow import flow, task`` replaces Prefect's decorators and tracks every run;
``trackflow.start_run`` and ``trackflow.log_*`` track code outside Prefect; ``Client``
reads and writes everything stored.

Names are imported on first use (PEP 562), so ``import trackflow`` and the CLI's
``--help`` stay fast and Prefect is only imported by what needs it.

Importing trackflow also wires the rooms (see docs/architecture.md): the lower rooms never
import the upper ones, the upper ones register with :mod:`trackflow.tracking.hooks`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

# Wiring, cheap (neither imports Prefect nor SQLAlchemy): ``Client().registry`` builds the
# registry's client; the registry finds the Prefect flow run and publishes Prefect events.
from trackflow import registry as _registry  # noqa: F401  (registers the registry factory)
from trackflow.tracked import prefect_hooks as _prefect_hooks  # noqa: F401  (flow-run lookup, event publisher)

__version__ = "0.1.0"

_FLUENT = "trackflow.tracking.fluent"
_ERRORS = "trackflow.exceptions"
_ENTITIES = "trackflow.tracking.entities"
_MODEL_ENTITIES = "trackflow.registry.entities"
_DEPRECATED: dict[str, str] = {"get_client": "trackflow.Client()"}
"""Public names kept for a while, each with what replaces it (a DeprecationWarning says so)."""
_EXPORTS: dict[str, str] = {
    "ActiveRun": _FLUENT,
    "active_run": _FLUENT,
    "active_run_id": _FLUENT,
    "end_run": _FLUENT,
    "get_client": _FLUENT,
    "log_artifact": _FLUENT,
    "log_batch": _FLUENT,
    "log_dataset": _FLUENT,
    "log_dict": _FLUENT,
    "log_figure": _FLUENT,
    "log_metric": _FLUENT,
    "log_metrics": _FLUENT,
    "log_param": _FLUENT,
    "log_params": _FLUENT,
    "log_text": _FLUENT,
    "note": _FLUENT,
    "set_tag": _FLUENT,
    "set_tags": _FLUENT,
    "start_run": _FLUENT,
    "explore": "trackflow.tracking.exploration",
    "snapshot": "trackflow.tracking.exploration",
    "ExplorationRun": "trackflow.tracking.exploration",
    "load_ipython_extension": "trackflow.tracking.exploration",
    "LoggedFigure": "trackflow.tracking.figures",
    "Client": "trackflow.tracking.client",
    "RunPage": "trackflow.tracking.client",
    "Artifact": _ENTITIES,
    "Dataset": _ENTITIES,
    "Experiment": _ENTITIES,
    "LineageEdge": _ENTITIES,
    "LineageNode": _ENTITIES,
    "Metric": _ENTITIES,
    "Note": _ENTITIES,
    "NoteKind": _ENTITIES,
    "Param": _ENTITIES,
    "Run": _ENTITIES,
    "RunDataset": _ENTITIES,
    "RunStatus": _ENTITIES,
    "LineageGraph": "trackflow.tracking.lineage",
    "ModelDeployment": _MODEL_ENTITIES,
    "ModelVersion": _MODEL_ENTITIES,
    "RegisteredModel": _MODEL_ENTITIES,
    "StageTransition": _MODEL_ENTITIES,
    "VersionStatus": _MODEL_ENTITIES,
    "Stage": "trackflow.registry.stages",
    "flow": "trackflow.tracked.decorators",
    "task": "trackflow.tracked.decorators",
    "load_model": "trackflow.registry.loading",
    "TrackflowError": _ERRORS,
    "InvalidInputError": _ERRORS,
    "NotFoundError": _ERRORS,
    "AlreadyExistsError": _ERRORS,
    "ConflictError": _ERRORS,
    "SchemaVersionError": _ERRORS,
    "StoreError": _ERRORS,
    "IntegrityError": _ERRORS,
    "UnsafeModelError": _ERRORS,
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
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
    from trackflow.registry.entities import (
        ModelDeployment,
        ModelVersion,
        RegisteredModel,
        StageTransition,
        VersionStatus,
    )
    from trackflow.registry.loading import load_model
    from trackflow.registry.stages import Stage
    from trackflow.tracked.decorators import flow, task
    from trackflow.tracking.client import Client, RunPage
    from trackflow.tracking.entities import (
        Artifact,
        Dataset,
        Experiment,
        LineageEdge,
        LineageNode,
        Metric,
        Note,
        NoteKind,
        Param,
        Run,
        RunDataset,
        RunStatus,
    )
    from trackflow.tracking.exploration import ExplorationRun, explore, load_ipython_extension, snapshot
    from trackflow.tracking.figures import LoggedFigure
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
        log_figure,
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
    from trackflow.tracking.lineage import LineageGraph


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'trackflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    if name in _DEPRECATED:  # warn on every use: not cached
        warnings.warn(
            f"trackflow.{name} is deprecated; use {_DEPRECATED[name]} instead.", DeprecationWarning, stacklevel=2
        )
        return value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
