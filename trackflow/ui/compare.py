"""Compare 2-20 runs: ``/compare?runs=a,b`` (page) and ``/api/compare?runs=a,b`` (JSON).

Query options: ``step`` (the metrics table's "at step N" column), ``diff=1`` (params:
differences only), ``metric`` and ``x`` (``step`` or ``time``: the charted metric and its x axis).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.client import Client
from trackflow.ui.compare_data import MAX_RUNS, compare_runs, parse_run_ids
from trackflow.ui.web import get_client, render

__all__ = ["router"]

router = APIRouter()


def _step(text: str | None) -> int | None:
    if text is None or text.strip() == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"step must be a whole number, got {text!r}.") from None


@router.get("/api/compare")
def api_compare(runs: str = "", step: str | None = None, client: Client = Depends(get_client)) -> JSONResponse:
    """Params, metrics (last/min/max/at step), metric histories, datasets and differences of 2-20 runs.

    The data is plain JSON types already (non-finite values are null): it skips FastAPI's encoder,
    which costs more than the database read on long histories.
    """
    return JSONResponse(compare_runs(client, parse_run_ids(runs), step=_step(step)))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request, runs: str = "", step: str | None = None, diff: str = "", metric: str = "", x: str = "step",
    client: Client = Depends(get_client),
) -> HTMLResponse:
    """The compare page."""
    data = compare_runs(client, parse_run_ids(runs), step=_step(step))
    # the chart opens on the chosen metric, else the one with the longest history
    longest = max(data["metrics"], key=lambda m: max((c["steps"] for c in m["runs"] if c), default=0), default=None)
    chosen = metric if metric in {m["key"] for m in data["metrics"]} else (longest["key"] if longest else "")
    return render(request, "compare.html", {
        "title": f"Compare {len(data['runs'])} runs", "nav": "experiments", "data": data,
        "diff_only": diff in ("1", "true", "on"), "metric": chosen, "x": "time" if x == "time" else "step",
        "max_runs": MAX_RUNS, "params_query": dict(request.query_params),
    })  # fmt: skip
