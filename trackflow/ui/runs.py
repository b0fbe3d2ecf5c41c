"""``/experiments/{name}``: the runs table of an experiment, and its JSON under ``/api``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from trackflow.exceptions import InvalidInputError
from trackflow.tracking import summaries
from trackflow.tracking.client import Client
from trackflow.ui.run_detail import known_run
from trackflow.ui.run_table import (
    MAX_LIMIT,
    TableQuery,
    child_rows,
    count_runs,
    parse_columns,
    parse_query,
    run_table,
)
from trackflow.ui.web import get_client, query_url, render

__all__ = ["router"]

router = APIRouter()

_POSITION = re.compile(r"at position (\d+) in filter")


def _query(
    filter: str | None = Query(None, description="search grammar of Client.search_runs"),  # noqa: A002
    sort: str | None = Query(None, description="status, name, start, duration or params./metrics./tags.KEY"),
    order: str | None = Query(None, description="asc or desc"),
    columns: str | None = Query(None, description="comma-separated params.K, metrics.K[:min|:max], tags.K"),
    offset: int | None = Query(None, ge=0),
    limit: int | None = Query(None, ge=1, le=MAX_LIMIT),
    all: str | None = Query(None, description="1: include task runs as rows"),  # noqa: A002
) -> dict[str, Any]:
    return {"filter": filter, "sort": sort, "order": order, "columns": columns, "offset": offset, "limit": limit,
            "all_runs": (all or "").strip().lower() in ("1", "true", "yes", "on")}


@router.get("/api/experiments/{name:path}/runs")
def api_runs(name: str, raw: dict[str, Any] = Depends(_query), count: bool = Query(False, description="also count"),
             client: Client = Depends(get_client)) -> dict[str, Any]:
    """One page of the runs table (400 with the parser's message for a bad filter, sort or column).

    ``total`` is null unless ``count=true`` (counting scans every matching run).
    """
    query = parse_query(**raw)
    data = run_table(client, name, query)
    data["total"] = count_runs(client, name, query) if count else None
    return data


@router.get("/api/experiments/{name:path}/count")
def api_count(name: str, raw: dict[str, Any] = Depends(_query), client: Client = Depends(get_client)) -> dict[str, Any]:
    """How many runs match the filter (flow runs only unless ``all=1``): the runs page asks after rendering."""
    query = parse_query(**raw)
    return {"experiment": name, "filter": query.filter, "all": query.all_runs, "total": count_runs(client, name, query)}


@router.get("/api/experiments/{name:path}/keys")
def api_keys(name: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """The param, metric and tag keys of the experiment's 1,000 most recent runs (the columns on offer)."""
    experiment = client.get_experiment_by_name(name)
    keys = summaries.recent_keys(client, experiment.id)
    return {"params": keys.params, "metrics": keys.metrics, "tags": keys.tags}


@router.get("/api/runs/{run_id}/children")
def api_children(run_id: str, columns: str | None = Query(None),
                 client: Client = Depends(get_client)) -> dict[str, Any]:
    """The runs nested under a run (its task runs) as table rows with the chosen columns."""
    known_run(client, run_id)  # 404 if unknown
    return {"runs": child_rows(client, run_id, parse_columns(columns))}


@router.get("/runs/{run_id}/rows", response_class=HTMLResponse)
def children_fragment(request: Request, run_id: str, columns: str | None = Query(None),
                      client: Client = Depends(get_client)) -> HTMLResponse:
    """Table rows (HTML) of a flow run's task runs, inserted under it when expanded."""
    known_run(client, run_id)
    chosen = parse_columns(columns)
    rows = child_rows(client, run_id, chosen)
    cols = [{"spec": c.spec} for c in chosen]
    return render(request, "run_rows.html", {"rows": rows, "columns": cols, "child": True})


@router.get("/experiments/{name:path}", response_class=HTMLResponse)
def runs_page(request: Request, name: str, raw: dict[str, Any] = Depends(_query),
              client: Client = Depends(get_client)) -> HTMLResponse:
    """The runs page: a bad filter, sort or column shows the message above an empty table."""
    error: InvalidInputError | None = None
    try:
        query = parse_query(**raw)
        data = run_table(client, name, query)  # unknown experiment -> the 404 page
    except InvalidInputError as exc:
        error = exc
        experiment = client.get_experiment_by_name(name)
        found = summaries.recent_keys(client, experiment.id, runs=200)
        query = TableQuery(filter=(raw["filter"] or "").strip(), columns_given=False)
        data = {"experiment": {"id": experiment.id, "name": experiment.name}, "columns": [], "runs": [],
                "has_more": False, "next_offset": None, "offset": 0, "limit": query.limit,
                "filter": query.filter, "sort": query.sort, "order": query.order, "all": bool(raw["all_runs"]),
                "keys": {"params": found.params, "metrics": found.metrics, "tags": found.tags}}
    keys = summaries.RunKeys(**data["keys"])
    position = _POSITION.search(str(error)) if error else None
    chosen = {c["spec"] for c in data["columns"]}
    offered = ([f"params.{k}" for k in keys.params] + [f"metrics.{k}" for k in keys.metrics]
               + [f"metrics.{k}:min" for k in keys.metrics] + [f"metrics.{k}:max" for k in keys.metrics]
               + [f"tags.{k}" for k in keys.tags])
    return render(request, "runs.html", {
        **data, "nav": "experiments", "error": error, "error_position": int(position.group(1)) if position else None,
        "params": query.params(), "path": f"/experiments/{quote(name)}", "offered": offered, "chosen": chosen,
        "column_specs": ",".join(c["spec"] for c in data["columns"]), "query_url": query_url,
        "count_url": query_url(f"/api/experiments/{quote(name)}/count", {"filter": query.filter or None,
                                                                 "all": "1" if query.all_runs else None}),
    })
