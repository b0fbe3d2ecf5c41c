"""Links from what trackflow publishes to Prefect into ``trackflow ui`` (when ``TRACKFLOW_UI_URL`` is set).

``TRACKFLOW_UI_URL`` is where a team's ``trackflow ui`` answers (``http://127.0.0.1:5000``,
``https://ml.example.com/trackflow``). The run report, the task-metrics table and the model
card then link to the run page, the compare page of a flow run and the previous run of the
same flow, and the model version page. Without the variable nothing links.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

__all__ = ["UI_URL_ENV", "ui_base_url", "run_url", "compare_url", "model_version_url", "previous_flow_run"]

UI_URL_ENV = "TRACKFLOW_UI_URL"


def ui_base_url() -> str | None:
    """``TRACKFLOW_UI_URL`` without a trailing slash, or None when unset (or not an http(s) URL)."""
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    return base if base.startswith(("http://", "https://")) else None


def run_url(run_id: str) -> str | None:
    """The ui page of a run."""
    base = ui_base_url()
    return f"{base}/runs/{run_id}" if base else None


def compare_url(run_ids: Sequence[str]) -> str | None:
    """The ui compare page of these runs (2-20)."""
    base = ui_base_url()
    return f"{base}/compare?runs={','.join(run_ids)}" if base and len(run_ids) >= 2 else None


def model_version_url(name: str, version: int) -> str | None:
    """The ui page of a registered model version."""
    base = ui_base_url()
    return f"{base}/models/{quote(name, safe='')}/versions/{version}" if base else None


def previous_flow_run(client: Any, run: Any) -> str | None:
    """The id of the flow run of the same flow (``prefect.flow`` tag) in the same experiment that started last before ``run``."""
    flow_name = run.tags.get("prefect.flow")
    terms = ["attributes.kind = 'flow'", f"attributes.start_time < {int(run.start_time.timestamp() * 1000)}"]
    if flow_name:
        terms.append("tags.`prefect.flow` = '" + flow_name.replace("\\", "\\\\").replace("'", "\\'") + "'")
    found = client.search_runs(run.experiment_name, " and ".join(terms), order_by="attributes.start_time DESC",
                               max_results=1)  # fmt: skip
    return str(found[0].id) if found else None
