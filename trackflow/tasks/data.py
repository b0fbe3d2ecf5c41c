"""Built-in data tasks: ``load_dataset`` and ``split_dataset``.

A data *source* is one of:

* ``sklearn:<name>``: a toy dataset bundled with scikit-learn (no download), one of
  :data:`SKLEARN_DATASETS`; its target column is ``target``.
* a path (or ``file://`` URI) of a ``.csv``, ``.tsv``, ``.parquet`` / ``.pq`` file.
* any other URL pandas can read through fsspec (``s3://bucket/data.csv``).

Both tasks are tracked: the source (a file path is fingerprinted as an input dataset),
the loaded frame and the train / test splits are recorded automatically.

Where a source may point
    ``data`` is a deployment parameter, editable by whoever may edit parameters in the
    Prefect UI, so a run that comes from a deployment (or from a spec, ``trackflow run``)
    is restricted before anything is read: ``sklearn:<name>``; a URL only when its scheme
    is in ``TRACKFLOW_ALLOWED_DATA_SCHEMES`` (none by default); a local path (or
    ``file://``) only inside the allowed folders, symlinks followed. The folders are the
    spec's folder for ``trackflow run``, plus ``TRACKFLOW_DATA_ROOTS`` (``os.pathsep``
    separated) of the environment that runs the flow; for a deployment run without that
    setting, the run's working directory (relative paths are read relative to it, as
    before). A direct call from your own code (``training_pipeline(data=...)``) is not
    restricted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.settings import ENV_PREFIX, data_location_problem, get_settings
from trackflow.tracked.decorators import task

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SKLEARN_DATASETS",
    "SKLEARN_TARGET",
    "load_dataset",
    "split_dataset",
    "read_source",
    "check_source",
    "default_target",
    "data_roots",
    "allowed_data_roots",
    "check_location",
]

SKLEARN_DATASETS = ("breast_cancer", "iris", "wine", "diabetes", "digits")
"""Toy datasets shipped inside scikit-learn (``sklearn:<name>``): nothing is downloaded."""

SKLEARN_TARGET = "target"
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SOURCE_HINT = (
    "Use sklearn:<name> (" + ", ".join(SKLEARN_DATASETS) + "), or the path of a .csv, .tsv or .parquet file."
)


_SPEC_ROOTS: ContextVar[tuple[Path, ...] | None] = ContextVar("trackflow_spec_data_roots", default=None)


@contextmanager
def data_roots(*directories: Path) -> Iterator[None]:
    """Restrict local data sources to ``directories`` (and ``TRACKFLOW_DATA_ROOTS``) inside
    the block: how ``trackflow run`` keeps a spec's run inside the spec's folder."""
    token = _SPEC_ROOTS.set(tuple(directories))
    try:
        yield
    finally:
        _SPEC_ROOTS.reset(token)


def _in_deployment_run() -> bool:
    """True inside a flow run started from a deployment (its parameters may have been edited)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow_run = getattr(context, "flow_run", None) if context is not None else None
    return getattr(flow_run, "deployment_id", None) is not None


def allowed_data_roots() -> tuple[Path, ...] | None:
    """The folders local data may come from in this run, or None when unrestricted (see the
    module docstring)."""
    extra = get_settings().data_roots
    spec_roots = _SPEC_ROOTS.get()
    if spec_roots is not None:
        return (*spec_roots, *extra)
    if _in_deployment_run():
        return extra or (Path.cwd(),)
    return None


def check_location(source: str) -> None:
    """Refuse a source this run may not read (InvalidInputError naming ``data``); reads nothing."""
    roots = allowed_data_roots()
    if roots is None:
        return
    problem = data_location_problem(source, roots, get_settings().allowed_data_schemes, base=Path.cwd())
    if problem is not None:
        raise InvalidInputError(
            f"`data` {source!r} is not allowed in this run: {problem}.",
            hint=f"`data` may be sklearn:<name>, a file inside the allowed folders (the spec's folder, "
            f"{ENV_PREFIX}DATA_ROOTS), or a URL whose scheme is listed in {ENV_PREFIX}ALLOWED_DATA_SCHEMES.",
        )


def _file_path(source: str) -> Path | None:
    """The local path of a file source (``file://`` stripped), or None for other URLs."""
    if source.startswith("file://"):
        return Path(source[len("file://") :])
    if "://" in source:
        return None
    return Path(source).expanduser()


def _format(source: str) -> str:
    name = source.split("?", 1)[0].lower()
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise InvalidInputError(f"Cannot tell the format of data source {source!r} from its name.", hint=_SOURCE_HINT)


def check_source(source: Any) -> str:
    """Validate a data source without reading it; returns it stripped."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(f"A data source must be a non-empty string, got {source!r}.", hint=_SOURCE_HINT)
    source = source.strip()
    if source.startswith("sklearn:"):
        name = source[len("sklearn:") :]
        if name not in SKLEARN_DATASETS:
            raise InvalidInputError(f"Unknown scikit-learn dataset {name!r}.", hint=_SOURCE_HINT)
        return source
    check_location(source)
    _format(source)
    path = _file_path(source)
    if path is not None and not path.is_file():
        raise NotFoundError(f"No data file at {str(path)!r}.", hint="Relative paths in a trackflow.yaml are relative "
                            "to the spec's folder; on the command line, to the working directory.")
    return source


def default_target(source: str, target: str | None) -> str:
    """``target`` as given; ``"target"`` for sklearn datasets; required for files."""
    if target is not None:
        if not isinstance(target, str) or not target.strip():
            raise InvalidInputError(f"target must be a column name, got {target!r}.")
        return target
    if source.startswith("sklearn:"):
        return SKLEARN_TARGET
    raise InvalidInputError(f"Which column of {source!r} should the model predict?", hint="Pass target=<column name>.")


def read_source(source: str) -> pd.DataFrame:
    """Read a data source (see the module docstring) into a DataFrame."""
    import pandas as pd

    source = check_source(source)
    if source.startswith("sklearn:"):
        import sklearn.datasets

        loader = getattr(sklearn.datasets, f"load_{source[len('sklearn:') :]}")
        frame = loader(as_frame=True).frame
        return frame.rename(columns=str)
    path = _file_path(source)
    location: Any = str(path) if path is not None else source
    fmt = _format(source)
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(location)
        else:
            frame = pd.read_csv(location, sep="\t" if fmt == "tsv" else ",")
    except (OSError, ValueError, ImportError) as exc:
        raise InvalidInputError(f"Cannot read data source {source!r}: {exc}") from None
    if frame.empty:
        raise InvalidInputError(f"Data source {source!r} has no rows.")
    return frame.rename(columns=str)


@task(name="load-dataset")
def load_dataset(source: str, *, target: str | None = None) -> pd.DataFrame:
    """Load ``source`` (``sklearn:<name>``, a CSV / parquet path or URL) as a DataFrame.

    With ``target``, the column must exist. A file source is recorded as an input dataset
    by its content fingerprint (what ``trackflow rerun`` and data-change retraining compare).
    """
    frame = read_source(source)
    if target is not None and target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:30]))
        raise InvalidInputError(f"Data source {source!r} has no column {target!r}.", hint=f"Its columns: {columns}.")
    return frame


def _can_stratify(labels: pd.Series, test_size: float) -> bool:
    counts = labels.value_counts()
    if len(counts) < 2 or len(counts) > max(2, len(labels) // 2) or counts.min() < 2:
        return False
    n_test = int(round(test_size * len(labels)))
    return len(counts) <= n_test and len(counts) <= len(labels) - n_test


@task(name="split-dataset")
def split_dataset(
    frame: pd.DataFrame,
    *,
    target: str,
    test_size: float = 0.25,
    random_state: int | None = 0,
    stratify: bool = False,
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into ``{"train": ..., "test": ...}`` (both keep the target column).

    ``stratify=True`` keeps the class balance of ``target`` in both parts when every class
    has at least two rows (otherwise it splits without stratification).
    """
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise InvalidInputError(f"test_size must be a fraction between 0 and 1, got {test_size!r}.")
    if target not in frame.columns:
        raise InvalidInputError(f"The data has no target column {target!r}.")
    if len(frame) < 4:
        raise InvalidInputError(f"Cannot split {len(frame)} rows into train and test sets; the data needs at least 4.")
    labels = frame[target] if stratify and _can_stratify(frame[target], float(test_size)) else None
    train, test = train_test_split(frame, test_size=float(test_size), random_state=random_state, stratify=labels)
    return {"train": train, "test": test}
