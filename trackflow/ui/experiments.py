"""``/``: the experiments with their run counts, last run and best value of a chosen metric."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from trackflow.tracking import summaries
from trackflow.tracking.client import Client
from trackflow.ui.formatting import iso
from trackflow.ui.web import get_client, render

__all__ = ["router", "experiments_data"]

router = APIRouter()


def experiments_data(client: Client, *, metric: str | None, mode: str) -> dict[str, Any]:
    """The experiments overview (shared by ``/`` and ``/api/experiments``)."""
    rows = summaries.experiment_summaries(client, metric=metric or None, mode=mode)
    return {
        "metric": metric or None,
        "mode": mode,
        "experiments": [
            {"id": e.id, "name": e.name, "created_at": iso(e.created_at), "run_count": e.run_count,
             "flow_run_count": e.flow_run_count, "last_run_time": iso(e.last_run_time), "best": e.best,
             "url": f"/experiments/{quote(e.name)}"}
            for e in rows
        ],
    }


@router.get("/api/experiments")
def api_experiments(
    metric: str | None = Query(None, description="metric key whose best latest value to show"),
    mode: str = Query("max", description="max or min: what 'best' means"),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    """Every experiment: run counts, last run time, best value of ``metric``."""
    return experiments_data(client, metric=metric, mode=mode)


@router.get("/", response_class=HTMLResponse)
def experiments_page(
    request: Request,
    metric: str | None = Query(None),
    mode: str = Query("max"),
    client: Client = Depends(get_client),
) -> HTMLResponse:
    """The experiments page."""
    data = experiments_data(client, metric=metric, mode=mode)
    return render(request, "experiments.html", {**data, "nav": "experiments"})
