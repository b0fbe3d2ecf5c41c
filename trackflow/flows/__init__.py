"""Prefect flows and tasks with tracking: ``trackflow.flow`` and ``trackflow.task``.

The reference pipelines (``training_pipeline`` ...) live in :mod:`trackflow.flows.pipelines`
and are imported from here on first use.
"""

from __future__ import annotations

from typing import Any

from trackflow.flows.decorators import TrackedFlow, TrackedTask, flow, task
from trackflow.flows.options import TrackingOptions

__all__ = ["PipelineResult", "TrackedFlow", "TrackedTask", "TrackingOptions", "flow", "task", "training_pipeline"]

_PIPELINES = frozenset({"training_pipeline", "PipelineResult", "check_training_parameters", "DEFAULT_ESTIMATOR"})


def __getattr__(name: str) -> Any:
    """Import the reference pipelines (and the ready-made tasks they use) on first use."""
    if name in _PIPELINES:
        from trackflow.flows import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'trackflow.flows' has no attribute {name!r}")
