"""Tracked Prefect flows and tasks: the room under the ready-made tasks and the pipelines.

* :mod:`.decorators` - ``trackflow.flow`` / ``trackflow.task`` (drop-in for Prefect's).
* :mod:`.binding` - which trackflow run belongs to which Prefect flow or task run.
* :mod:`.autolog` / :mod:`.sklearn_metrics` - what is logged from arguments and results.
* :mod:`.options` - the keyword-only tracking options of the decorators.
* :mod:`.quiet_logs` - one report line instead of Prefect's per-run log noise.
* :mod:`.provenance` - tags that record how a flow run was invoked (for reruns).
* :mod:`.prefect_hooks` - the Prefect flow-run lookup and event publisher the registry uses.

Names are imported on first use, so ``import trackflow.tracked.prefect_hooks`` (done by
``import trackflow``) does not import Prefect.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["TrackedFlow", "TrackedTask", "TrackingOptions", "flow", "task"]

_LAZY = {
    "TrackedFlow": "trackflow.tracked.decorators",
    "TrackedTask": "trackflow.tracked.decorators",
    "flow": "trackflow.tracked.decorators",
    "task": "trackflow.tracked.decorators",
    "TrackingOptions": "trackflow.tracked.options",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from trackflow.tracked.decorators import TrackedFlow, TrackedTask, flow, task
    from trackflow.tracked.options import TrackingOptions


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'trackflow.tracked' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
