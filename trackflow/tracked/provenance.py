"""How a tracked flow run was invoked, recorded on its run so it can be rerun.

Tags written on the flow's run:

``trackflow.flow_entrypoint``
    ``package.module:flow_name`` or ``/abs/path/file.py:flow_name``.
``trackflow.parameters``
    The call's parameters as JSON (exact types, unlike params, which are strings).
``trackflow.flow_version``
    Prefect's version of the flow: a hash of its source file.
``trackflow.spec`` / ``trackflow.spec_name``
    The ``trackflow.yaml`` the run came from (``trackflow run`` / deployments).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = [
    "ENTRYPOINT_TAG",
    "PARAMETERS_TAG",
    "FLOW_VERSION_TAG",
    "SPEC_TAG",
    "SPEC_NAME_TAG",
    "RERUN_OF_TAG",
    "flow_entrypoint",
    "invocation_tags",
    "encode_parameters",
    "decode_parameters",
]

ENTRYPOINT_TAG = "trackflow.flow_entrypoint"
PARAMETERS_TAG = "trackflow.parameters"
FLOW_VERSION_TAG = "trackflow.flow_version"
SPEC_TAG = "trackflow.spec"
SPEC_NAME_TAG = "trackflow.spec_name"
RERUN_OF_TAG = "trackflow.rerun_of"
_MAX_JSON = 8000


def flow_entrypoint(flow: Any) -> str | None:
    """``module:name`` of a flow's function, or ``file.py:name`` for a script's flow."""
    import inspect

    fn = getattr(flow, "fn", flow)
    fn = getattr(fn, "__wrapped__", fn)
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not name or "<" in name:
        return None
    if module == "__main__" or module.startswith("__prefect_loader"):
        try:
            return f"{inspect.getfile(fn)}:{name}"
        except TypeError:
            return None
    if module == "trackflow.flows.pipelines":
        module = "trackflow.flows"  # the public import path
    return f"{module}:{name}"


def encode_parameters(parameters: Mapping[str, Any]) -> str | None:
    """JSON of ``parameters`` when it is JSON-able and short enough to tag, else None."""
    try:
        text = json.dumps(dict(parameters), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if len(text) <= _MAX_JSON else None


def decode_parameters(text: str) -> dict[str, Any]:
    """The parameters stored by :func:`encode_parameters`."""
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInputError(f"The stored parameters are not valid JSON: {text[:80]!r}.") from None
    if not isinstance(value, dict):
        raise InvalidInputError("The stored parameters are not a JSON object.")
    return value


def invocation_tags(
    entrypoint: str | None,
    parameters: Mapping[str, Any],
    *,
    flow_version: str | None = None,
    spec: str | None = None,
    spec_name: str | None = None,
) -> dict[str, str]:
    """The tags describing one invocation (see the module docstring)."""
    tags: dict[str, str] = {}
    if entrypoint:
        tags[ENTRYPOINT_TAG] = entrypoint
    if flow_version:
        tags[FLOW_VERSION_TAG] = flow_version
    encoded = encode_parameters(parameters)
    if encoded is not None:
        tags[PARAMETERS_TAG] = encoded
    if spec:
        tags[SPEC_TAG] = spec
    if spec_name:
        tags[SPEC_NAME_TAG] = spec_name
    return tags
