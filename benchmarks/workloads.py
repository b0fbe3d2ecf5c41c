"""The benchmark workloads, defined once, in data.

``run.py`` reads this list; the same definition (name + sizes) is handed to
``runner_trackflow.py`` and ``runner_mlflow.py``, so both sides measure the same thing.
Each workload states its unit, whether lower or higher is better, the MLflow 3.17.2
anchor figure from the issue (in the same unit) and trackflow's target.

Target kinds:

``speedup``   baseline / trackflow >= value (baseline: the first measured baseline variant,
              or the anchor when MLflow was not run)
``max``       trackflow <= value (an absolute threshold, in the workload's unit)
``min``       trackflow >= value
``ratio_max`` trackflow / baseline <= value (the baseline is Prefect's own decorators)
``none``      shown, not judged

``baselines`` are the MLflow variants measured beside trackflow (e.g. synchronous and
asynchronous logging), each in its own subprocess, alternating with trackflow; a variant
with a ``target`` adds a speedup condition against that variant. ``second`` names a figure
shown in its own column (the time of the calls only, the flow body). ``rows`` turn other
figures of the same measurement into rows of their own (cold searches, other query shapes).
``checks`` are extra conditions on figures a runner reports besides the main one
(durability, p99 latency, errors); all must hold for the target to be met.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["WORKLOADS", "Baseline", "Check", "Row", "Target", "Workload", "by_name"]

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Check:
    """A condition on an extra figure of trackflow's result, e.g. ``errors == 0``.

    ``agg`` says how repetitions are combined before comparing: ``median`` or ``worst``
    (the largest value for ``<``/``<=``/``==``, the smallest for ``>``/``>=``).
    """

    metric: str
    op: Literal["<", "<=", "==", ">=", ">"]
    value: float
    agg: Literal["median", "worst"] = "median"

    def describe(self) -> str:
        """Human text such as ``p99_call_ms < 5``."""
        number = int(self.value) if float(self.value).is_integer() else self.value
        return f"{self.metric} {self.op} {number}"


@dataclass(frozen=True)
class Target:
    """What trackflow must reach on the main figure."""

    kind: Literal["speedup", "max", "min", "ratio_max", "none"]
    value: float

    def describe(self, unit: str) -> str:
        """Human text such as ``>= 200x faster`` or ``<= 20 ms``."""
        number = int(self.value) if float(self.value).is_integer() else self.value
        return {
            "speedup": f">= {number}x faster",
            "max": f"<= {number} {unit}",
            "min": f">= {number:,} {unit}" if isinstance(number, int) else f">= {number} {unit}",
            "ratio_max": f"<= {number}x baseline",
            "none": "-",
        }[self.kind]


@dataclass(frozen=True)
class Baseline:
    """One MLflow variant measured beside trackflow (its own subprocess per repetition)."""

    label: str
    params: dict[str, Any] = field(default_factory=dict)
    """Merged into the MLflow side's params (e.g. ``{"mlflow_mode": "async"}``)."""
    target: float | None = None
    """Speedup trackflow must reach against this variant too (None: shown, not judged)."""

    @property
    def side(self) -> str:
        """The name of this baseline in reports, e.g. ``MLflow async``."""
        return f"MLflow {self.label}".strip()


@dataclass(frozen=True)
class Row:
    """Another figure of the same measurement shown as a row of its own."""

    suffix: str
    title: str
    figure: str
    """The result field used as this row's main figure (on every side that reports it)."""
    target: Target
    checks: tuple[Check, ...] = ()
    second: tuple[str, str] | None = None


MLFLOW = Baseline("")
SYNC = Baseline("sync")
SYNC_ASYNC = (Baseline("sync"), Baseline("async", {"mlflow_mode": "async"}))


@dataclass(frozen=True)
class Workload:
    """One measured workload: what it does, its sizes, unit and target."""

    name: str
    title: str
    description: str
    unit: str
    full: dict[str, Any]
    quick: dict[str, Any] | None
    target: Target
    better: Better = "lower"
    baseline: Literal["mlflow", "prefect", "none"] = "mlflow"
    baselines: tuple[Baseline, ...] = (MLFLOW,)
    """The MLflow variants (``baseline == "mlflow"``); the first one is judged by ``target``."""
    anchor: float | None = None
    """The MLflow 3.17.2 figure from the issue, in ``unit`` (None when there is none)."""
    checks: tuple[Check, ...] = ()
    second: tuple[str, str] | None = None
    """(result field, label) of the second column, e.g. ``("queued_us", "queued")``."""
    rows: tuple[Row, ...] = ()
    max_repeat: int | None = None
    """Cap on repetitions (expensive workloads); None: ``--repeat``."""
    in_process: bool = False
    """The runner measures both sides itself, alternating, in one process (Prefect)."""
    timeout_s: float = 1800.0
    """Per runner subprocess."""
    baseline_overrides: dict[str, Any] = field(default_factory=dict)
    """Sizes changed for the MLflow side only (when MLflow would take far too long)."""
    baseline_max_repeat: int | None = None
    """Cap on MLflow repetitions (None: as trackflow)."""
    option: str | None = None
    """Skipped with ``--quick`` unless this ``run.py`` flag (e.g. ``search_1m``) is given."""

    def params(self, quick: bool, side: str = "trackflow") -> dict[str, Any] | None:
        """The sizes for this invocation (None: skipped under ``--quick``)."""
        chosen = self.quick if quick else self.full
        if chosen is None:
            return None
        if side != "trackflow" and not quick:
            return {**chosen, **self.baseline_overrides}
        return dict(chosen)

    def derived(self, row: Row) -> Workload:
        """The workload as seen by one of its extra rows (name, title, target, checks)."""
        return replace(self, name=self.name + row.suffix, title=row.title, target=row.target, checks=row.checks,
                       second=row.second, rows=(), baselines=tuple(replace(b, target=None) for b in self.baselines))


DURABLE = Check("durable", "==", 1, agg="worst")
QUEUED = ("queued_us", "queued (calls only)")
UNTIL_DURABLE = ("Timed until durable: the calls, end_run and the flush; then a separate read-only sqlite3 "
                 "connection counts the stored values (durable must be 1).")

# query shapes of the search workloads (seeding.SHAPES holds the filters, for both tools)
_SEARCH_ROWS = (
    Row("_cold", "same query, cold (first call)", "fast_cold_ms", Target("none", 0),
        (Check("fast_ok", "==", 1, agg="worst"),)),
    Row("_or", "OR across params and tags, ordered by a param (misses the fast path), warm", "or_warm_ms",
        Target("max", 50), (Check("or_ok", "==", 1, agg="worst"),)),
    Row("_or_cold", "OR shape, cold (first call)", "or_cold_ms", Target("none", 0),
        (Check("or_ok", "==", 1, agg="worst"),)),
    Row("_like", "LIKE on a tag + metric range (misses the fast path), warm", "like_warm_ms",
        Target("max", 50), (Check("like_ok", "==", 1, agg="worst"),)),
    Row("_like_cold", "LIKE shape, cold (first call)", "like_cold_ms", Target("none", 0),
        (Check("like_ok", "==", 1, agg="worst"),)),
)


def _search_rows(limit_ms: float) -> tuple[Row, ...]:
    return tuple(replace(row, target=Target("max", limit_ms)) if row.target.kind == "max" else row
                 for row in _SEARCH_ROWS)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        name="log_metric",
        title="1,000 log_metric calls, one at a time (10 keys x 100 steps), until durable",
        description="One run; log_metric per value; per call: " + UNTIL_DURABLE + " MLflow: synchronous, and "
        "asynchronous logging (mlflow.config.enable_async_logging) timed until flush_async_logging + end_run.",
        unit="us/call",
        full={"keys": 10, "steps": 100},
        quick={"keys": 10, "steps": 20},
        target=Target("speedup", 200),
        baselines=(SYNC, Baseline("async", {"mlflow_mode": "async"}, target=50)),
        anchor=9100.0,
        checks=(DURABLE,),
        second=QUEUED,
    ),
    Workload(
        name="log_param",
        title="100 log_param calls, one at a time, until durable",
        description="One run; log_param per value; per call: " + UNTIL_DURABLE,
        unit="us/call",
        full={"params": 100},
        quick={"params": 20},
        target=Target("speedup", 100),
        baselines=SYNC_ASYNC,
        anchor=5800.0,
        checks=(DURABLE,),
        second=QUEUED,
    ),
    Workload(
        name="log_batch",
        title="the same 100 params + 1,000 metrics in one batch call, until durable",
        description="One run; one log_batch call with all params and metric values; per value: " + UNTIL_DURABLE,
        unit="us/value",
        full={"params": 100, "keys": 10, "steps": 100},
        quick={"params": 20, "keys": 10, "steps": 10},
        target=Target("speedup", 10),
        baselines=SYNC_ASYNC,
        anchor=230.0,
        checks=(DURABLE,),
        second=QUEUED,
    ),
    Workload(
        name="create_runs",
        title="2,000 runs: create, 5 params + 5 metrics in a batch, end; until durable",
        description="Fluent start_run / one batch call / end, per run, then the flush; time per run; the stored "
        "runs, params and metrics are counted by a separate read-only sqlite3 connection.",
        unit="ms/run",
        full={"runs": 2000, "params": 5, "metrics": 5},
        quick={"runs": 100, "params": 5, "metrics": 5},
        target=Target("speedup", 30),
        baselines=SYNC_ASYNC,
        anchor=35.0,
        max_repeat=3,
        baseline_max_repeat=2,  # 2,000 MLflow runs take minutes per variant
        checks=(DURABLE,),
        second=("queued_ms", "before the final flush"),
    ),
    Workload(
        name="concurrent_4proc",
        title="4 processes logging metrics one at a time into one SQLite file, until durable",
        description="4 worker processes start together (barrier), each logs up to N values one at a time "
        "(or stops after max_seconds), then ends its run and flushes. values/s = values stored (counted by a "
        "separate read-only connection) / (last flushed run end - start); second column: values logged / "
        "(last call - start); p99 of every log_metric call; errors = exceptions + values not stored.",
        unit="values/s",
        better="higher",
        full={"procs": 4, "values": 50_000, "max_seconds": 10.0},
        quick={"procs": 4, "values": 2_000, "max_seconds": 2.0},
        target=Target("min", 20_000),
        # MLflow's async queue drains at ~50 values/s with 4 writers here (8,000 values: 150 s): cap its values
        baselines=(SYNC, Baseline("async (500 values/process)", {"mlflow_mode": "async", "values": 500})),
        anchor=82.0,
        max_repeat=3,
        checks=(Check("p99_call_ms", "<", 5), Check("errors", "==", 0, agg="worst")),
        second=("queued_values_per_s", "queued values/s"),
    ),
    Workload(
        name="metric_rss_1m",
        title="1,000,000 log_metric values in one run: peak RSS growth",
        description="One run; 10 keys x 100,000 steps logged one call at a time, then end_run and the flush. "
        "Figure: peak RSS (ru_maxrss) minus the RSS after import and store open. Durable values counted by a "
        "separate read-only connection.",
        unit="MB",
        full={"values": 1_000_000, "keys": 10},
        quick={"values": 50_000, "keys": 10},
        target=Target("max", 150),
        baseline="none",
        max_repeat=2,
        checks=(DURABLE,),
        second=("until_durable_s", "time until durable (s)"),
    ),
    Workload(
        name="search_100k",
        title="search 100,000 runs: filter + order, 100 results (fast-path shape), warm",
        description="Three query shapes, each timed cold (its first call in the process) and warm (median of the "
        "calls after it): metrics.acc > 0.5 and params.model = 'rf' order by metrics.acc DESC (trackflow's "
        "pushdown fast path); params.model = 'rf' or tags.team = 'risk' order by params.max_depth DESC (MLflow "
        "has no OR: two searches merged client-side, as a user would); tags.team LIKE 'ri%' and metrics.loss "
        ">= 0.2 and metrics.loss < 0.4. Runs seeded by direct SQL bulk inserts in a child process (same data "
        "for both tools). Results checked against the generated data.",
        unit="ms",
        full={"runs": 100_000, "calls": 3},
        quick={"runs": 3_000, "calls": 2},
        target=Target("max", 50),
        max_repeat=3,
        # one MLflow query at 100,000 runs takes minutes on 2 cores: one cold + one warm call per shape, once
        baseline_overrides={"calls": 1},
        baseline_max_repeat=1,
        checks=(Check("fast_ok", "==", 1, agg="worst"), Check("rss_growth_mb", "<", 50, agg="worst")),
        rows=_search_rows(50),
        timeout_s=5400.0,
    ),
    Workload(
        name="search_1m",
        title="search 1,000,000 runs: fast-path shape, warm",
        description="As search_100k at 1,000,000 runs, trackflow only (one MLflow call would take tens of "
        "minutes). Skipped with --quick unless --search-1m is given.",
        unit="ms",
        full={"runs": 1_000_000, "calls": 3},
        quick=None,
        target=Target("max", 250),
        baseline="none",
        max_repeat=2,
        checks=(Check("fast_ok", "==", 1, agg="worst"), Check("rss_growth_mb", "<", 50, agg="worst")),
        rows=_search_rows(250),
        option="search_1m",
        timeout_s=3600.0,
    ),
    Workload(
        name="model_registry",
        title="RandomForest (50 trees): save, register, set alias, load by alias, in a fresh process",
        description="Fitted outside the timing; timed in a fresh process (imports of the model format "
        "included): start run + save/log + register, set alias, load by models:/name@alias (predictions "
        "checked). MLflow: default (pip requirements inferred in a subprocess) and pip_requirements given "
        "explicitly (no inference).",
        unit="s",
        full={"n_estimators": 50, "rows": 1000, "features": 20},
        quick={"n_estimators": 5, "rows": 200, "features": 5},
        target=Target("max", 0.5),
        baselines=(Baseline("default"), Baseline("explicit pip_requirements", {"pip_requirements": True})),
        anchor=5.6,
    ),
    Workload(
        name="flow_sequential",
        title="whole flow of 50 sequential tasks: trackflow decorators vs Prefect's",
        description="Time of the whole flow call (second column: the flow body, first task call to last "
        "result); both flows alternate in one process against one ephemeral Prefect server.",
        unit="ms",
        full={"tasks": 50, "mode": "sequential"},
        quick={"tasks": 10, "mode": "sequential"},
        target=Target("ratio_max", 1.10),
        baseline="prefect",
        in_process=True,
        second=("body_ms", "body"),
    ),
    Workload(
        name="flow_submit",
        title="whole flow of 50 .submit()ed tasks: trackflow decorators vs Prefect's",
        description="As flow_sequential with every task submitted, then all results awaited.",
        unit="ms",
        full={"tasks": 50, "mode": "submit"},
        quick={"tasks": 10, "mode": "submit"},
        target=Target("ratio_max", 1.10),
        baseline="prefect",
        in_process=True,
        second=("body_ms", "body"),
    ),
    Workload(
        name="flow_dask",
        title="whole flow of 200 tasks on Dask (2 process workers): trackflow decorators vs Prefect's",
        description="DaskTaskRunner on one LocalCluster(n_workers=2, processes=True, threads_per_worker=1) started "
        "before the timing and shared by both flows; every task submitted, then all results awaited; whole flow "
        "call, alternating, one ephemeral Prefect server.",
        unit="ms",
        full={"tasks": 200, "mode": "dask"},
        quick={"tasks": 10, "mode": "dask"},
        target=Target("ratio_max", 1.15),
        baseline="prefect",
        in_process=True,
        max_repeat=3,
        second=("body_ms", "body"),
    ),
    Workload(
        name="cli_help",
        title="`trackflow --help`",
        description="Wall time of the command in a subprocess (median of the calls after one warm-up).",
        unit="s",
        full={"args": ["--help"], "calls": 5},
        quick={"args": ["--help"], "calls": 2},
        target=Target("max", 0.3),
        baseline="none",
    ),
    Workload(
        name="cli_runs_list",
        title="`trackflow runs list`",
        description="Wall time of the command in a subprocess on a database holding 50 runs "
        "(median of the calls after one warm-up).",
        unit="s",
        full={"args": ["runs", "list"], "calls": 5, "runs": 50},
        quick={"args": ["runs", "list"], "calls": 2, "runs": 5},
        target=Target("max", 0.4),
        baseline="none",
    ),
    Workload(
        name="cli_models_list",
        title="`trackflow models list`",
        description="Wall time of the command in a subprocess on a registry holding 20 registered models "
        "(median of the calls after one warm-up).",
        unit="s",
        full={"args": ["models", "list"], "calls": 5, "models": 20},
        quick={"args": ["models", "list"], "calls": 2, "models": 3},
        target=Target("max", 0.5),
        baseline="none",
    ),
    Workload(
        name="ui_pages",
        title="`trackflow ui`: runs page on 100,000 runs",
        description="100,000 runs (25,000 flow runs with 3 task runs each) seeded through the Client's batched "
        "writes; `trackflow ui` in a subprocess; each page requested after one cold request. Figure: median "
        "server time (Server-Timing) of the first runs page; details: every page's median/min/max server "
        "time, client time and bytes (runs page sorted, filtered, last page, JSON; compare 2/5/20 runs).",
        unit="ms",
        full={"runs": 100_000, "tasks_per_flow": 3, "history_runs": 20, "steps": 50, "calls": 7,
              "compare_runs": [2, 5, 20]},
        quick={"runs": 2_000, "tasks_per_flow": 3, "history_runs": 20, "steps": 50, "calls": 3,
               "compare_runs": [2, 20]},
        target=Target("max", 300),
        baseline="none",
        max_repeat=3,
        rows=(
            Row("_compare", "`trackflow ui`: compare page, 20 runs", "compare_20_runs_ms", Target("max", 300)),
            Row("_filtered", "`trackflow ui`: runs page filtered and sorted by a metric", "runs_page_filtered_ms",
                Target("max", 300)),
        ),
        timeout_s=3600.0,
    ),
    Workload(
        name="notes_search",
        title="notes search: full text over 100,000 notes (worst query shape)",
        description="100,000 notes over 200 runs seeded into a SQLite store; Client.search_notes for a common "
        "word, a rare word, two words, a prefix, kind + experiment and no text (newest 100). Figure: the worst "
        "of the per-shape medians after one warm-up call; details: every shape's median.",
        unit="ms",
        full={"notes": 100_000, "runs": 200, "calls": 20},
        quick={"notes": 5_000, "runs": 50, "calls": 5},
        target=Target("max", 50),
        baseline="none",
        max_repeat=3,
        timeout_s=1800.0,
    ),
    Workload(
        name="quickstart",
        title="`trackflow quickstart`, each on a fresh PREFECT_HOME and TRACKFLOW_HOME",
        description="Runs the command N times in a row; the figure is the share of runs that "
        "exited 0 (every run must succeed).",
        unit="% ok",
        better="higher",
        full={"runs": 10},
        quick={"runs": 1},
        target=Target("min", 100),
        baseline="none",
        max_repeat=1,
        checks=(Check("failures", "==", 0, agg="worst"),),
        timeout_s=3600.0,
    ),
)


def by_name(names: list[str] | None = None) -> list[Workload]:
    """The workloads called ``names`` (all when None), in definition order.

    Raises ValueError naming the unknown ones.
    """
    if not names:
        return list(WORKLOADS)
    known = {w.name: w for w in WORKLOADS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(known)}")
    wanted = set(names)
    return [w for w in WORKLOADS if w.name in wanted]
