"""Pipeline specs, scheduled and data-triggered retraining, reruns and model serving.

* :mod:`.spec` - ``trackflow.yaml`` (trackflow's MLproject), validated with line numbers.
* :mod:`.launch` - load a flow from its entrypoint, check parameters, run it once.
* :mod:`.scheduling` - Prefect deployments with schedules and the data-change watch.
* :mod:`.rerun` - rerun a past run after reporting code, data and package changes.
* :mod:`.serving` - the HTTP model server that follows an alias or stage.

Which version is served where is recorded by the registry
(``Client().registry.record_deployment``). Names are imported on first use, so ``import trackflow.deployments`` does not import Prefect.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PipelineSpec",
    "load_spec",
    "parse_spec",
    "run_spec",
    "build_deployments",
    "apply_deployments",
    "serve_deployments",
    "check_data_changed",
    "plan_rerun",
    "rerun",
    "ModelServer",
    "create_app",
    "serve",
]

_LAZY = {
    "PipelineSpec": "trackflow.deployments.spec",
    "load_spec": "trackflow.deployments.spec",
    "parse_spec": "trackflow.deployments.spec",
    "run_spec": "trackflow.deployments.launch",
    "build_deployments": "trackflow.deployments.scheduling",
    "apply_deployments": "trackflow.deployments.scheduling",
    "serve_deployments": "trackflow.deployments.scheduling",
    "check_data_changed": "trackflow.deployments.scheduling",
    "plan_rerun": "trackflow.deployments.rerun",
    "rerun": "trackflow.deployments.rerun",
    "ModelServer": "trackflow.deployments.serving",
    "create_app": "trackflow.deployments.serving",
    "serve": "trackflow.deployments.serving",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'trackflow.deployments' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
