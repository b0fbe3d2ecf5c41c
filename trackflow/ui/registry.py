"""The registry pages: ``/models``, ``/models/{name}``, ``/models/{name}/versions/{version}``.

Their JSON twins live under ``/api/models``; ``/api/models/{name}/versions/{version}/card``
returns the version's model card (markdown, as published to Prefect).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from trackflow.tracking.client import Client
from trackflow.ui.registry_data import model_card_text, model_detail, models_overview, version_detail
from trackflow.ui.web import get_client, render

__all__ = ["router"]

router = APIRouter()


@router.get("/api/models")
def api_models(client: Client = Depends(get_client)) -> dict[str, Any]:
    """Every model with its newest version per stage and its aliases."""
    return {"models": models_overview(client)}


@router.get("/api/models/{name}")
def api_model(name: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """A model's versions (with their runs' metrics), transition history and latest card."""
    return model_detail(client, name)


@router.get("/api/models/{name}/versions/{version}")
def api_version(name: str, version: str, client: Client = Depends(get_client)) -> dict[str, Any]:
    """One version: signature, input example, upstream lineage, deployments, run."""
    return version_detail(client, name, version)


@router.get("/api/models/{name}/versions/{version}/card", response_class=PlainTextResponse)
def api_card(name: str, version: str, client: Client = Depends(get_client)) -> PlainTextResponse:
    """The version's model card as markdown."""
    mv = client.registry.get_version(name, version)
    return PlainTextResponse(model_card_text(client, name, mv.version), media_type="text/markdown")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, client: Client = Depends(get_client)) -> HTMLResponse:
    """The registered models."""
    return render(request, "models.html", {"title": "Models", "nav": "models", "models": models_overview(client)})


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str, metric: str = "", client: Client = Depends(get_client)) -> HTMLResponse:
    """One model: versions x stage x aliases, a metric across versions, transitions, card."""
    data = model_detail(client, name)
    chosen = metric if metric in data["metric_keys"] else (data["metric_keys"][0] if data["metric_keys"] else "")
    return render(request, "model.html", {"title": f"Model {name}", "nav": "models", "data": data, "metric": chosen})


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, name: str, version: str, client: Client = Depends(get_client)) -> HTMLResponse:
    """One version."""
    data = version_detail(client, name, version)
    return render(request, "model_version.html", {"title": f"{name} v{data['version']['version']}", "nav": "models",
                                                  "data": data})  # fmt: skip
