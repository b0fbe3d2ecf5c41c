"""Built-in batch scoring task: ``score_batch`` scores a dataset with a registered model.

Lineage is recorded both ways around the model version: the scoring run used the input
dataset and produced the predictions dataset, and ``dataset:<input> --scored_by-->
model:<name>/<version> --predicted--> dataset:<predictions>`` links the data to the exact
version that scored it (``client.lineage("models:/churn-clf/3")`` shows every batch it
scored).

``trackflow models predict MODEL_URI INPUT -o OUTPUT`` runs the same :func:`score_and_record`
in a run of its own, outside Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect.cache_policies import NO_CACHE

from trackflow.exceptions import InvalidInputError
from trackflow.tracked.decorators import task

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["score_batch", "score_frame", "score_and_record", "output_path"]


def output_path(output: str) -> Path:
    """The path predictions are written to; InvalidInputError unless it ends in .csv or .parquet."""
    path = Path(output).expanduser()
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidInputError(f"Cannot write predictions to {output!r}: use a .csv or .parquet path.")
    return path


def _write(frame: pd.DataFrame, output: str) -> Path:
    path = output_path(output)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def score_frame(
    model_uri: str, data: Any, *, prediction_column: str = "prediction", client: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """``(input frame, input + predictions, version or None)`` without recording anything."""
    import pandas as pd

    from trackflow.registry.loading import load_model
    from trackflow.registry.uris import parse_model_uri
    from trackflow.tasks.data import read_source
    from trackflow.tracking.fluent import get_client

    client = client or get_client()
    parsed = parse_model_uri(model_uri)
    if isinstance(data, (str, Path)):
        frame = read_source(str(data))
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise InvalidInputError(f"score_batch scores a DataFrame or a data file, got {type(data).__name__}.")
    version = client.registry.resolve(model_uri) if parsed.kind != "run" else None
    model = load_model(version.uri if version is not None else model_uri, client=client)
    if prediction_column in frame.columns:
        raise InvalidInputError(f"The data already has a column {prediction_column!r}; pass another prediction_column.")
    scored = frame.copy()
    scored[prediction_column] = model.predict(frame)
    return frame, scored, version


@task(name="score-batch", cache_policy=NO_CACHE, log_datasets=False)
def score_batch(
    model_uri: str, data: Any, *, output: str | None = None, prediction_column: str = "prediction"
) -> pd.DataFrame:
    """Score ``data`` (a DataFrame or a CSV / parquet path) with the model at ``model_uri``.

    Returns the input with a ``prediction_column``; with ``output`` also writes it there
    (.csv or .parquet). Records the input and predictions datasets and their lineage
    through the model version (see the module docstring).
    """
    from trackflow.tracking.context import active_run_id

    return score_and_record(model_uri, data, output=output, prediction_column=prediction_column,
                            run_id=active_run_id())


def score_and_record(
    model_uri: str, data: Any, *, output: str | None = None, prediction_column: str = "prediction",
    run_id: str | None = None, new_run: Callable[[Any], str] | None = None, client: Any = None,
) -> pd.DataFrame:
    """Score ``data`` (see :func:`score_batch`); record the datasets and lineage on run ``run_id``,
    or on the run ``new_run(version)`` creates once the data is scored (version None for
    a ``runs:/`` URI).

    Nothing is written (no output file, no run, no record) when the model or the data is refused.
    """
    from trackflow.tracking.fluent import get_client

    client = client or get_client()
    if output is not None:
        output_path(output)
    frame, scored, version = score_frame(model_uri, data, prediction_column=prediction_column, client=client)
    written = _write(scored, output) if output is not None else None
    if run_id is None and new_run is not None:
        run_id = new_run(version)
    if run_id is None:
        return scored
    source = str(data) if isinstance(data, (str, Path)) else None
    inputs = client.log_dataset(run_id, frame, "scoring-input", role="input", source=source)
    predictions = client.log_dataset(run_id, scored, "predictions", role="output",
                                     source=written.resolve().as_uri() if written is not None else None)
    model_node = version.ref if version is not None else model_uri  # runs:/<id>/<path>: the logged package
    client.link_edges([(inputs.ref, model_node, "scored_by"), (model_node, predictions.ref, "predicted"),
                       (model_node, f"run:{run_id}", "used_by")], run_id=run_id)
    if version is not None:
        client.set_tags(run_id, {"trackflow.model": f"{version.name}/{version.version}"})
    return scored
