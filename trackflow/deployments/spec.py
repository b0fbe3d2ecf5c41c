"""Pipeline specs: ``trackflow.yaml``, trackflow's MLproject.

A spec names a tracked flow, its parameters, a schedule, the model it registers and when
to retrain::

    name: churn-retrain
    flow: trackflow.flows:training_pipeline        # or path/to/file.py:flow_name
    parameters:
      data: data/churn.csv
      target: churned
    experiment: churn                               # default: the flow's own (training-pipeline)
    run_name: "churn-{estimator}"                   # a template over the parameters (optional)
    schedule: {cron: "0 3 * * 1", timezone: UTC}   # or interval: 3600, or rrule: "..."
    model:
      name: churn-clf
      promote_if: "metrics.roc_auc >= production.metrics.roc_auc"
    retrain_on:
      data_changed: data/churn.csv
    informed_by: [run:3f2a..., note:12]            # exploration runs / notes behind it (optional)

The file is read with PyYAML's composer so every error names the key *and its line*
(``trackflow.yaml line 7: unknown key 'shedule' ...``). Relative paths (the ``flow``
file, ``parameters.data`` and ``retrain_on.data_changed``) are relative to the folder
that holds the spec, as in an MLproject. Nothing here imports Prefect except schedule
validation, which builds Prefect's own schedule objects.

A spec may come from someone else, so it cannot leave its folder (checked before anything
is imported or read): a ``flow`` file must resolve inside the spec's folder (symlinks
followed) and a ``flow`` module must be under ``TRACKFLOW_ALLOWED_FLOW_MODULES``
(``trackflow.flows`` by default); ``parameters.data`` (also from ``-P``) must be
``sklearn:<name>``, a path inside the folder or a URL whose scheme is in
``TRACKFLOW_ALLOWED_DATA_SCHEMES`` (none by default); ``retrain_on.data_changed`` a path
inside the folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trackflow.deployments.specyaml import Checker, compose_with_lines, spec_error
from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.settings import ENV_PREFIX, data_location_problem, get_settings, is_inside, module_allowed

__all__ = [
    "SPEC_FILE",
    "DEFAULT_FLOW",
    "ScheduleSpec",
    "ModelSpec",
    "RetrainSpec",
    "PipelineSpec",
    "load_spec",
    "parse_spec",
    "parse_overrides",
    "resolve_data_path",
    "merge_parameters",
    "flow_entrypoint_problem",
    "data_problem",
]

SPEC_FILE = "trackflow.yaml"
DEFAULT_FLOW = "trackflow.flows:training_pipeline"
DEFAULT_CHECK_EVERY = 300.0
MIN_CHECK_EVERY = 10.0

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = ("name", "description", "flow", "experiment", "run_name", "parameters", "schedule", "model", "retrain_on",
             "tags", "work_pool", "informed_by")
_SCHEDULE_KEYS = ("cron", "interval", "rrule", "timezone", "active")
_MODEL_KEYS = ("name", "stage", "promote_if")
_RETRAIN_KEYS = ("data_changed", "check_every")
_MODEL_PARAMS = {"name": "model_name", "stage": "stage", "promote_if": "promote_if"}


@dataclass(frozen=True)
class ScheduleSpec:
    """When a pipeline runs: one of a cron string, an interval in seconds or an RRULE."""

    kind: str
    value: str | float
    timezone: str | None = None
    active: bool = True

    def to_prefect(self) -> Any:
        """The Prefect schedule (``CronSchedule`` / ``IntervalSchedule`` / ``RRuleSchedule``)."""
        from datetime import timedelta

        from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

        if self.kind == "cron":
            return CronSchedule(cron=str(self.value), timezone=self.timezone)
        if self.kind == "interval":
            return IntervalSchedule(interval=timedelta(seconds=float(self.value)), timezone=self.timezone)
        return RRuleSchedule(rrule=str(self.value), timezone=self.timezone)

    def describe(self) -> str:
        """A short human description, e.g. ``cron '0 3 * * 1' (UTC)``."""
        value = f"every {self.value:g} s" if self.kind == "interval" else f"{self.kind} {self.value!r}"
        zone = f" ({self.timezone})" if self.timezone else ""
        return f"{value}{zone}{'' if self.active else ' [paused]'}"


@dataclass(frozen=True)
class ModelSpec:
    """The model a pipeline registers: its name, first stage and promotion policy."""

    name: str
    stage: str | None = None
    promote_if: str | None = None


@dataclass(frozen=True)
class RetrainSpec:
    """Retrain when a data file's content fingerprint changes (checked every ``check_every`` s)."""

    data_changed: Path
    check_every: float = DEFAULT_CHECK_EVERY


@dataclass(frozen=True)
class PipelineSpec:
    """A validated ``trackflow.yaml``."""

    name: str
    flow: str
    directory: Path
    path: Path | None = None
    description: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    schedule: ScheduleSpec | None = None
    model: ModelSpec | None = None
    retrain_on: RetrainSpec | None = None
    tags: tuple[str, ...] = ()
    """Prefect tags of the deployment and its flow runs: the spec's ``tags``, then one
    ``trackflow.informed_by:<node>`` tag per ``informed_by`` source (how they reach every
    flow run, see :func:`~trackflow.tracked.options.link_informed_by`)."""
    work_pool: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    informed_by: tuple[str, ...] = ()
    """Exploration runs and notes (``run:<id>`` / ``note:<id>``) that informed the pipeline."""

    @property
    def source(self) -> str:
        """How errors name the spec: its path, or ``<string>``."""
        return str(self.path) if self.path is not None else "<string>"

    def line_of(self, key: str) -> int | None:
        """The line of a dotted key (``parameters.data``), or of its nearest parent."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None

    def error(self, key: str, message: str, *, hint: str | None = None) -> InvalidInputError:
        """An InvalidInputError that names ``key`` and its line in the spec."""
        return spec_error(self.source, self.line_of(key), message, hint=hint)

    def flow_parameters(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The flow's call parameters: ``parameters``, the ``model`` section, then ``overrides``.

        ``model.name/stage/promote_if`` become ``model_name``/``stage``/``promote_if``;
        a relative ``data`` path is made absolute against the spec's folder. A ``data`` that
        leaves the folder (or a URL whose scheme is not allowed) raises InvalidInputError.
        """
        params = dict(self.parameters)
        if self.model is not None:
            for key, param in _MODEL_PARAMS.items():
                value = getattr(self.model, key)
                if value is not None:
                    params[param] = value
        params = merge_parameters(params, dict(overrides or {}))
        if isinstance(params.get("data"), str):
            problem = data_problem(params["data"], self.directory)
            if problem is not None:
                raise self.error("parameters.data", problem, hint=_DATA_HINT)
            params["data"] = resolve_data_path(params["data"], self.directory)
        return params


# ---------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a spec file (a folder means its ``trackflow.yaml``)."""
    spec_path = Path(path).expanduser()
    if spec_path.is_dir():
        spec_path = spec_path / SPEC_FILE
    if not spec_path.is_file():
        raise NotFoundError(f"No pipeline spec at {str(spec_path)!r}.",
                            hint=f"Create a {SPEC_FILE} (see examples/churn).")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the pipeline spec {str(spec_path)!r}: {exc}") from None
    return parse_spec(text, path=spec_path.resolve())


def parse_spec(text: str, *, path: Path | None = None, directory: Path | None = None) -> PipelineSpec:
    """Validate spec text; every problem raises InvalidInputError naming the key and line."""
    source = str(path) if path is not None else "<string>"
    values, lines = compose_with_lines(text, source)
    base = directory or (path.parent if path is not None else Path.cwd())
    check = Checker(source, lines)
    check.known_keys("", values, _TOP_KEYS)
    name = check.string("name", values.get("name"), required=True)
    if not _NAME.match(name):
        raise check.error("name", f"`name` {name!r} must be 1-100 letters, digits, '_', '.' or '-', starting "
                          "with a letter or digit (it names the Prefect deployment).")
    flow = check.string("flow", values.get("flow")) or DEFAULT_FLOW
    _check_flow_ref(check, flow, base)
    parameters = check.mapping("parameters", values.get("parameters")) or {}
    for key in parameters:
        if not _IDENT.match(key):
            raise check.error(f"parameters.{key}", f"parameter name {key!r} is not a valid Python identifier.")
    if isinstance(parameters.get("data"), str):
        problem = data_problem(parameters["data"], base)
        if problem is not None:
            raise check.error("parameters.data", problem, hint=_DATA_HINT)
    model = _model(check, values.get("model"), parameters)
    tags = check.string_list("tags", values.get("tags"))
    informed_by = _informed_by(check, values.get("informed_by"))
    return PipelineSpec(
        name=name,
        flow=flow,
        directory=base,
        path=path,
        description=check.string("description", values.get("description")),
        experiment=check.string("experiment", values.get("experiment")),
        run_name=check.string("run_name", values.get("run_name")),
        parameters=dict(parameters),
        schedule=_schedule(check, values.get("schedule")),
        model=model,
        retrain_on=_retrain(check, values.get("retrain_on"), base),
        tags=(*tags, *_informed_by_tags(informed_by)),
        work_pool=check.string("work_pool", values.get("work_pool")),
        lines=dict(lines),
        informed_by=informed_by,
    )


def _informed_by(check: Checker, value: Any) -> tuple[str, ...]:
    """The ``informed_by`` list as lineage nodes (run ids, ``run:<id>``, ``note:<id>``)."""
    from trackflow.tracking.notes import informing_nodes

    items = [value] if isinstance(value, str) else value
    sources = check.string_list("informed_by", items)
    try:
        return tuple(informing_nodes(sources))
    except InvalidInputError as exc:
        raise check.error("informed_by", f"`informed_by`: {exc}") from None


def _informed_by_tags(informed_by: tuple[str, ...]) -> list[str]:
    from trackflow.tracked.options import run_option_tags

    return run_option_tags(informed_by=informed_by) if informed_by else []


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", "a.b=1"]`` from ``-P`` options into a dict; values are YAML scalars.

    ``-P test_size=0.3`` gives a float, ``-P stratify=false`` a bool, ``-P name=abc`` a
    string; a dotted key sets a value inside a mapping parameter.
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"Cannot read parameter {item!r}.",
                                    hint="Write -P key=value, e.g. -P test_size=0.3.")
        parts = key.split(".")
        if not all(_IDENT.match(p) for p in parts):
            raise InvalidInputError(f"Parameter name {key!r} (in -P {item!r}) is not a valid identifier.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        result = merge_parameters(result, _nest(parts, value))
    return result


def resolve_data_path(value: str, directory: Path) -> str:
    """A relative file path made absolute against ``directory``; URLs and ``sklearn:`` kept."""
    if value.startswith("sklearn:") or "://" in value or not value.strip():
        return value
    candidate = Path(value).expanduser()
    return str(candidate if candidate.is_absolute() else (directory / candidate).resolve())


# ---------------------------------------------------------------------- section checks


_DATA_HINT = (f"`data` may be sklearn:<name>, a file inside the spec's folder, or a URL whose scheme is listed in "
              f"{ENV_PREFIX}ALLOWED_DATA_SCHEMES.")


def data_problem(value: str, directory: Path) -> str | None:
    """Why ``parameters.data`` = ``value`` is refused for a spec in ``directory``, or None.

    Nothing is read: only the path (symlinks followed) or the URL scheme is looked at.
    """
    settings = get_settings()
    problem = data_location_problem(value, (directory,), settings.allowed_data_schemes, base=directory)
    if problem is None:
        return None
    return f"`parameters.data` {value!r} is not allowed: {problem}."


def flow_entrypoint_problem(flow: str, directory: Path) -> str | None:
    """Why a spec in ``directory`` may not run ``flow``, or None (nothing is imported).

    A ``file.py:name`` must resolve inside ``directory`` (symlinks followed); a
    ``module:name`` must be under ``TRACKFLOW_ALLOWED_FLOW_MODULES`` (``trackflow.flows``).
    """
    target, colon, attr = flow.rpartition(":")
    if target.endswith(".py") and colon and _IDENT.match(attr):
        path = Path(target).expanduser()
        path = path if path.is_absolute() else directory / path
        if is_inside(path, (directory,)):
            return None
        return (f"`flow` {flow!r} is not allowed: the file {str(path.resolve())!r} is outside the spec's folder "
                f"{str(directory)!r} (symlinks are followed); a flow file must be inside it.")
    if _MODULE_ENTRY.match(flow):
        module = flow.partition(":")[0]
        allowed = get_settings().allowed_flow_modules
        if module_allowed(module, allowed):
            return None
        return (f"`flow` {flow!r} is not allowed: module {module!r} is not under an allowed flow module "
                f"({', '.join(allowed)}).")
    return f"`flow` {flow!r} must be 'package.module:flow_name' or 'path/to/file.py:flow_name'."


_FLOW_HINT = (f"Put the flow file inside the spec's folder, or allow its module with {ENV_PREFIX}ALLOWED_FLOW_MODULES="
              "<module prefix,...>.")


def _check_flow_ref(check: Checker, flow: str, base: Path) -> None:
    problem = flow_entrypoint_problem(flow, base)
    if problem is not None:
        raise check.error("flow", problem, hint=_FLOW_HINT if "not allowed" in problem else None)


def _model(check: Checker, value: Any, parameters: Mapping[str, Any]) -> ModelSpec | None:
    section = check.mapping("model", value)
    if section is None:
        return None
    check.known_keys("model", section, _MODEL_KEYS)
    name = check.string("model.name", section.get("name"), required=True)
    from trackflow.registry.stages import PromotionPolicy, Stage, parse_stage
    from trackflow.registry.validation import validate_model_name

    try:
        validate_model_name(name)
    except InvalidInputError as exc:
        raise check.error("model.name", f"`model.name`: {exc}") from None
    stage = check.string("model.stage", section.get("stage"))
    promote_if = check.string("model.promote_if", section.get("promote_if"))
    if stage is not None:
        try:
            parsed = parse_stage(stage)
        except InvalidInputError as exc:
            raise check.error("model.stage", f"`model.stage`: {exc}", hint=exc.hint) from None
        if promote_if is not None and parsed not in (Stage.DEVELOPMENT, Stage.STAGING):
            raise check.error("model.stage", "`model.stage` must be development or staging when `model.promote_if` "
                              "decides the move to production.")
        stage = parsed.value
    if promote_if is not None:
        try:
            PromotionPolicy.parse(promote_if)
        except InvalidInputError as exc:
            raise check.error("model.promote_if", f"`model.promote_if`: {exc}", hint=exc.hint) from None
    for key, param in _MODEL_PARAMS.items():
        if key in section and param in parameters:
            raise check.error(f"parameters.{param}", f"`parameters.{param}` and `model.{key}` both set the same flow "
                              "parameter; keep one.")
    return ModelSpec(name=name, stage=stage, promote_if=promote_if)


def _schedule(check: Checker, value: Any) -> ScheduleSpec | None:
    section = check.mapping("schedule", value)
    if section is None:
        return None
    check.known_keys("schedule", section, _SCHEDULE_KEYS)
    given = [k for k in ("cron", "interval", "rrule") if k in section]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise check.error("schedule", f"`schedule` needs exactly one of cron, interval or rrule (found {what}).",
                          hint='e.g. schedule: {cron: "0 3 * * 1", timezone: UTC} or schedule: {interval: 3600}')
    kind = given[0]
    raw: str | float
    if kind == "interval":
        raw = check.number(f"schedule.{kind}", section[kind], minimum=1.0, unit="seconds")
    else:
        raw = check.string(f"schedule.{kind}", section[kind], required=True)
    spec = ScheduleSpec(kind=kind, value=raw, timezone=check.string("schedule.timezone", section.get("timezone")),
                        active=check.boolean("schedule.active", section.get("active"), default=True))
    try:
        spec.to_prefect()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        field_name = _pydantic_field(exc) or kind
        field_name = field_name if field_name in section else kind
        raise check.error(f"schedule.{field_name}", f"`schedule.{field_name}`: {_pydantic_message(exc)}") from None
    return spec


def _retrain(check: Checker, value: Any, base: Path) -> RetrainSpec | None:
    section = check.mapping("retrain_on", value)
    if section is None:
        return None
    check.known_keys("retrain_on", section, _RETRAIN_KEYS)
    path = check.string("retrain_on.data_changed", section.get("data_changed"), required=True)
    if path.startswith("sklearn:") or "://" in path:
        raise check.error("retrain_on.data_changed", "`retrain_on.data_changed` must be a local file path.")
    if data_location_problem(path, (base,), (), base=base) is not None:
        target = Path(path).expanduser()
        shown = (target if target.is_absolute() else base / target).resolve()
        raise check.error("retrain_on.data_changed", f"`retrain_on.data_changed` {path!r} is not allowed: "
                          f"{str(shown)!r} is outside the spec's folder {str(base)!r} (symlinks are followed).")
    every = section.get("check_every")
    seconds = DEFAULT_CHECK_EVERY if every is None else check.number(
        "retrain_on.check_every", every, minimum=MIN_CHECK_EVERY, unit="seconds")
    return RetrainSpec(data_changed=Path(resolve_data_path(path, base)), check_every=seconds)


def _pydantic_field(exc: Exception) -> str | None:
    errors = getattr(exc, "errors", None)
    try:
        loc = errors()[0].get("loc") if callable(errors) else None
    except Exception:  # noqa: BLE001 - no structured errors
        return None
    return str(loc[0]) if loc else None


def _pydantic_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return "; ".join(str(e.get("msg", e)).removeprefix("Value error, ") for e in errors())
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    return str(exc)


def _nest(parts: Sequence[str], value: Any) -> dict[str, Any]:
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    result: dict[str, Any] = nested  # parts is never empty
    return result


def merge_parameters(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``extra``; nested mappings merge key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_parameters(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged
