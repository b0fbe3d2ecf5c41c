"""Built-in deployment task: ``deploy_model`` records which version is served where.

Serving itself is a long-running process (``trackflow serve models:/<name>@production``,
which records its own deployment when it starts and whenever it swaps versions); this task
is the step a pipeline ends with when it hands a version to a serving target it does not
run itself (a model server that follows the stage, a batch scorer, an external platform).
The record is visible in ``trackflow models show <name>`` and in the lineage graph
(``model:<name>/<version> --deployed_as--> deployment:<id>``), and a
``trackflow.model.deployed`` event is emitted in the Prefect run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect.cache_policies import NO_CACHE

from trackflow.tracked.decorators import task

if TYPE_CHECKING:
    from trackflow.registry.entities import ModelDeployment

__all__ = ["deploy_model", "record_model_deployment"]


def record_model_deployment(
    model_uri: str, *, target: str, name: str | None = None, details: Mapping[str, Any] | None = None,
    client: Any = None,
) -> ModelDeployment:  # fmt: skip
    """Resolve ``model_uri`` (``models:/...``) and record it as served at ``target`` (no Prefect needed)."""
    from trackflow.exceptions import InvalidInputError
    from trackflow.registry.uris import parse_model_uri
    from trackflow.tracking.fluent import get_client
    from trackflow.tracking.hooks import current_flow_run_id

    if parse_model_uri(model_uri).kind == "run":
        raise InvalidInputError(f"deploy_model needs a registered model (models:/...), got {model_uri!r}.",
                                hint="Register the run's model first (register_model).")
    client = client or get_client()
    version = client.registry.resolve(model_uri)
    record = client.registry.record_deployment(
        version.name, version.version, target=target, deployment_name=name, details={"uri": model_uri, **dict(details or {})}
    )
    if current_flow_run_id() is not None:
        from trackflow.dashboard.publish import publish_event

        publish_event(
            "trackflow.model.deployed",
            resource_id=f"trackflow.model.{version.name}",
            resource={"prefect.resource.name": version.name},
            related=[{"prefect.resource.id": f"trackflow.model-version.{version.name}.{version.version}",
                      "prefect.resource.role": "model-version"}],
            payload={"name": version.name, "version": version.version, "target": target, "deployment": record.id},
        )
    return record


@task(name="deploy-model", cache_policy=NO_CACHE)
def deploy_model(
    model_uri: str, *, target: str, name: str | None = None, details: dict[str, Any] | None = None
) -> ModelDeployment:
    """Record that the version ``model_uri`` names is served at ``target`` from now on.

    The previous active record with the same ``name`` (default ``"<model> at <target>"``)
    ends as ``replaced``. Returns the new :class:`~trackflow.registry.entities.ModelDeployment`.
    """
    return record_model_deployment(model_uri, target=target, name=name, details=details)
