"""The benchmark workloads, defined once, in data.

``run.py`` reads this list; the same definition (name + sizes) is handed to
``runner_trackflow.py`` and ``runner_mlflow.py``, so both sides measure the same thing.
Each workload states its unit, whether lower or higher is better, the MLflow 3.17.2
anchor figure from the issue (in the same unit) and trackflow's target.

Target kinds:

``speedup``   baseline / trackflow >= value (baseline: the measured MLflow figure, or the
              anchor when MLflow was not run)
``max``       trackflow <= value (an absolute threshold, in the workload's unit)
``min``       trackflow >= value
``ratio_max`` trackflow / baseline <= value (the baseline is Prefect's own decorators)

``checks`` are extra conditions on figures a runner reports besides the main one
(durability, p99 latency, errors); all must hold for the target to be met.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["WORKLOADS", "Check", "Target", "Workload", "by_name"]

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

    kind: Literal["speedup", "max", "min", "ratio_max"]
    value: float

    def describe(self, unit: str) -> str:
        """Human text such as ``>= 200x faster`` or ``<= 20 ms``."""
        number = int(self.value) if float(self.value).is_integer() else self.value
        return {
            "speedup": f">= {number}x faster",
            "max": f"<= {number} {unit}",
            "min": f">= {number:,} {unit}" if isinstance(number, int) else f">= {number} {unit}",
            "ratio_max": f"<= {number}x baseline",
        }[self.kind]


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
    anchor: float | None = None
    """The MLflow 3.17.2 figure from the issue, in ``unit`` (None when there is none)."""
    checks: tuple[Check, ...] = ()
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

    def params(self, quick: bool, side: str = "trackflow") -> dict[str, Any] | None:
        """The sizes for this invocation (None: skipped under ``--quick``)."""
        chosen = self.quick if quick else self.full
        if chosen is None:
            return None
        if side != "trackflow" and not quick:
            return {**chosen, **self.baseline_overrides}
        return dict(chosen)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        name="log_metric",
        title="1,000 log_metric calls, one at a time (10 keys x 100 steps)",
        description="One run; log_metric per value; time per call. After the run ends, the stored "
        "values are counted through a fresh SQLite connection (durable must equal keys*steps).",
        unit="us/call",
        full={"keys": 10, "steps": 100},
        quick={"keys": 10, "steps": 20},
        target=Target("speedup", 200),
        anchor=9100.0,
        checks=(Check("durable", "==", 1, agg="worst"),),
    ),
    Workload(
        name="log_param",
        title="100 log_param calls, one at a time",
        description="One run; log_param per value; time per call; stored params counted after run end.",
        unit="us/call",
        full={"params": 100},
        quick={"params": 20},
        target=Target("speedup", 100),
        anchor=5800.0,
        checks=(Check("durable", "==", 1, agg="worst"),),
    ),
    Workload(
        name="log_batch",
        title="the same 100 params + 1,000 metrics in one batch call",
        description="One run; one log_batch call with all params and metric values; time per value.",
        unit="us/value",
        full={"params": 100, "keys": 10, "steps": 100},
        quick={"params": 20, "keys": 10, "steps": 10},
        target=Target("speedup", 10),
        anchor=230.0,
        checks=(Check("durable", "==", 1, agg="worst"),),
    ),
    Workload(
        name="create_runs",
        title="2,000 runs: create, 5 params + 5 metrics in a batch, end",
        description="Fluent start_run / one batch call / end, per run; time per run.",
        unit="ms/run",
        full={"runs": 2000, "params": 5, "metrics": 5},
        quick={"runs": 100, "params": 5, "metrics": 5},
        target=Target("speedup", 30),
        anchor=35.0,
        max_repeat=3,
        checks=(Check("durable", "==", 1, agg="worst"),),
    ),
    Workload(
        name="search_10k",
        title="search 10,000 runs (filter + order, 100 results)",
        description="metrics.acc > 0.5 and params.model = 'rf', order by metrics.acc DESC, 100 results. "
        "Runs seeded by direct SQL bulk inserts in a child process (same data for both tools); "
        "median of the calls after one warm-up call.",
        unit="ms",
        full={"runs": 10_000, "calls": 5},
        quick={"runs": 1_000, "calls": 3},
        target=Target("max", 20),
        anchor=870.0,
        max_repeat=3,
        checks=(Check("results", "==", 100, agg="worst"),),
    ),
    Workload(
        name="search_100k",
        title="search 100,000 runs (same query)",
        description="As search_10k at 100,000 runs; RSS is reported before and after the search to show "
        "that the runs are not loaded into memory.",
        unit="ms",
        full={"runs": 100_000, "calls": 3},
        quick={"runs": 3_000, "calls": 2},
        target=Target("max", 100),
        max_repeat=3,
        # one MLflow query at 100,000 runs takes minutes on 2 cores: time a single cold call, once
        baseline_overrides={"calls": 1, "warmup": False},
        baseline_max_repeat=1,
        checks=(Check("results", "==", 100, agg="worst"), Check("rss_growth_mb", "<", 50, agg="worst")),
    ),
    Workload(
        name="concurrent_4proc",
        title="4 processes logging metrics one at a time into one SQLite file",
        description="4 worker processes start together (barrier), each logs up to N values one at a time "
        "(or stops after max_seconds), then ends its run. values/s = values stored / (last run end - "
        "start); p99 of every log_metric call; errors = exceptions + values not stored.",
        unit="values/s",
        better="higher",
        full={"procs": 4, "values": 50_000, "max_seconds": 10.0},
        quick={"procs": 4, "values": 2_000, "max_seconds": 2.0},
        target=Target("min", 20_000),
        anchor=82.0,
        max_repeat=3,
        checks=(Check("p99_call_ms", "<", 5), Check("errors", "==", 0, agg="worst")),
    ),
    Workload(
        name="model_registry",
        title="RandomForest (50 trees): save as model, register, set alias, load by alias",
        description="Fitted outside the timing; timed: start run + save/log + register, set alias, load "
        "by models:/name@alias (predictions checked).",
        unit="s",
        full={"n_estimators": 50, "rows": 1000, "features": 20},
        quick={"n_estimators": 5, "rows": 200, "features": 5},
        target=Target("max", 0.5),
        anchor=5.6,
    ),
    Workload(
        name="flow_sequential",
        title="flow of 50 sequential tasks: trackflow decorators vs Prefect's",
        description="Time from the first task call to the last result, inside the flow body; both "
        "flows alternate in one process against one ephemeral Prefect server.",
        unit="ms",
        full={"tasks": 50, "mode": "sequential"},
        quick={"tasks": 10, "mode": "sequential"},
        target=Target("ratio_max", 1.15),
        baseline="prefect",
        in_process=True,
    ),
    Workload(
        name="flow_submit",
        title="flow of 50 .submit()ed tasks: trackflow decorators vs Prefect's",
        description="As flow_sequential with every task submitted, then all results awaited.",
        unit="ms",
        full={"tasks": 50, "mode": "submit"},
        quick={"tasks": 10, "mode": "submit"},
        target=Target("ratio_max", 1.15),
        baseline="prefect",
        in_process=True,
    ),
    Workload(
        name="cli_help",
        title="`trackflow --help`",
        description="Wall time of the command in a subprocess (median of the calls after one warm-up).",
        unit="s",
        full={"args": ["--help"], "calls": 5},
        quick={"args": ["--help"], "calls": 2},
        target=Target("max", 0.5),
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
        target=Target("max", 0.5),
        baseline="none",
    ),
    Workload(
        name="ui_pages",
        title="`trackflow ui`: runs page and compare page on 100,000 runs",
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
