"""``/runs/{id}``: one run's page, its JSON, metric histories, artifacts and lineage picture."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from trackflow.tracking.client import Client
from trackflow.tracking.validation import validate_key
from trackflow.ui.artifacts_view import artifacts_json, download, preview
from trackflow.ui.run_detail import history_json, known_run, run_data
from trackflow.ui.web import get_client, render

__all__ = ["router"]

router = APIRouter()


@router.get("/api/runs/{run_id}")
def api_run(run_id: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """Everything the run page shows (404 for an unknown run)."""
    return run_data(client, run_id)


@router.get("/api/runs/{run_id}/metrics/{key:path}/history")
def api_history(run_id: str, key: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """Every logged value of one metric, by step."""
    known_run(client, run_id)
    validate_key(key)
    return {"run_id": run_id, "key": key, "history": history_json(client.get_metric_history(run_id, key))}


@router.get("/api/runs/{run_id}/artifacts")
def api_artifacts(run_id: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """The run's artifacts: path, size, media type, sha256, preview kind, download URL."""
    known_run(client, run_id)
    return {"run_id": run_id, "artifacts": artifacts_json(client, run_id)}


@router.get("/api/runs/{run_id}/artifacts/preview")
def api_artifact_preview(run_id: str, path: str = Query(...), client: Client = Depends(get_client)) -> dict[str, Any]:
    """A preview of one artifact (text, JSON, CSV head, image URL)."""
    known_run(client, run_id)
    return preview(client, run_id, path)


@router.get("/api/runs/{run_id}/artifacts/download")
def api_artifact_download(run_id: str, path: str = Query(...), inline: bool = Query(False),
                          client: Client = Depends(get_client)) -> Response:
    """The artifact's bytes (checked against its sha256); an attachment unless an inline image."""
    known_run(client, run_id)
    data, media_type, headers = download(client, run_id, path, inline=inline)
    return Response(content=data, media_type=media_type, headers=headers)


@router.get("/runs/{run_id}/lineage.svg")
def lineage_svg(run_id: str, client: Client = Depends(get_client)) -> Response:
    """The run's lineage graph as an SVG picture (the interactive explorer is ``/lineage``)."""
    known_run(client, run_id)
    svg = client.lineage(run_id).to_svg()
    return Response(content=svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, client: Client = Depends(get_client)) -> HTMLResponse:
    """The run page."""
    data = run_data(client, run_id)
    return render(request, "run.html", {"run": data, "nav": "experiments"})
