"""Pipeline specs: good files load; unknown keys and wrong types name the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackflow.deployments.spec import DEFAULT_FLOW, load_spec, parse_overrides, parse_spec
from trackflow.exceptions import InvalidInputError, NotFoundError

GOOD = """\
name: churn-retrain
flow: trackflow.flows:training_pipeline        # or path/to/file.py:flow_name
parameters:
  data: data/churn.csv
  target: churned
  estimator: sklearn.ensemble.RandomForestClassifier
  estimator_params: {n_estimators: 200}
schedule: {cron: "0 3 * * 1", timezone: UTC}
model:
  name: churn-clf
  promote_if: "metrics.roc_auc >= production.metrics.roc_auc"
retrain_on:
  data_changed: data/churn.csv
"""


def test_good_spec_loads_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "trackflow.yaml"
    path.write_text(GOOD)
    spec = load_spec(tmp_path)  # a folder means its trackflow.yaml
    assert (spec.name, spec.flow, spec.path) == ("churn-retrain", "trackflow.flows:training_pipeline", path.resolve())
    assert spec.schedule is not None and (spec.schedule.kind, spec.schedule.value) == ("cron", "0 3 * * 1")
    assert spec.schedule.to_prefect().cron == "0 3 * * 1"
    assert spec.model is not None and spec.model.name == "churn-clf"
    assert spec.retrain_on is not None and spec.retrain_on.data_changed == (tmp_path / "data/churn.csv").resolve()
    params = spec.flow_parameters({"estimator_params": {"max_depth": 4}, "test_size": 0.3})
    assert params["data"] == str((tmp_path / "data/churn.csv").resolve())
    assert params["estimator_params"] == {"n_estimators": 200, "max_depth": 4}
    assert (params["model_name"], params["promote_if"], params["test_size"]) == (
        "churn-clf", "metrics.roc_auc >= production.metrics.roc_auc", 0.3)


def test_minimal_spec_defaults_to_the_training_pipeline() -> None:
    spec = parse_spec("name: demo\nschedule: {interval: 3600}\n")
    assert spec.flow == DEFAULT_FLOW and spec.parameters == {} and spec.model is None
    assert spec.schedule is not None and spec.schedule.to_prefect().interval.total_seconds() == 3600
    rrule = parse_spec("name: demo\nschedule: {rrule: 'FREQ=WEEKLY;BYDAY=MO', timezone: Europe/Paris}\n").schedule
    assert rrule is not None and rrule.kind == "rrule" and rrule.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("name: a\nshedule: {cron: '0 3 * * 1'}\n", 2, "unknown key `shedule`. Did you mean `schedule`?"),
        ("name: a\nmodel:\n  name: m\n  promot_if: x\n", 4, "unknown key `model.promot_if`"),
        ("name: a\nretrain_on:\n  data_changed: x.csv\n  every: 5\n", 4, "unknown key `retrain_on.every`"),
        ("name: a\nschedule:\n  interval: hourly\n", 3, "`schedule.interval` must be a number of seconds"),
        ("name: a\nparameters: [1, 2]\n", 2, "`parameters` must be a mapping"),
        ("name: 42\n", 1, "`name` must be a non-empty string"),
        ("name: a\ntags: [ok, 3]\n", 2, "`tags` must be a list of strings"),
        ("name: a\nschedule:\n  cron: '0 3 * * 1'\n  active: maybe\n", 4, "`schedule.active` must be true or false"),
        ("name: a\nretrain_on:\n  data_changed: d.csv\n  check_every: 1\n", 4, "at least 10 seconds"),
        ("name: a\nschedule:\n  cron: '0 3 * * 1'\n  timezone: Mars/Olympus\n", 4, "`schedule.timezone`"),
        ("name: a\nschedule: {cron: '99 * * * *'}\n", 2, "`schedule.cron`"),
        ("name: a\nschedule: {cron: '0 3 * * 1', interval: 60}\n", 2, "exactly one of cron, interval or rrule"),
        ("name: a\nmodel:\n  name: m\n  promote_if: roc_auc is better\n", 4, "`model.promote_if`"),
        ("name: a\nmodel:\n  name: m\n  stage: live\n", 4, "`model.stage`"),
        ("name: a\nflow: not-an-entrypoint\n", 2, "`flow`"),
        ("name: a\nname: b\n", 2, "duplicate key `name` (first on line 1)"),
        ("name: a\nparameters:\n  model_name: x\nmodel: {name: y}\n", 3, "`parameters.model_name` and `model.name`"),
        ("name: has space\n", 1, "`name` 'has space' must be"),
        ("name: a\nparameters: {data: [unclosed\n", 3, "not valid YAML"),
    ],
)
def test_bad_specs_name_the_key_and_its_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_spec(text, path=Path("/project/trackflow.yaml"))
    message = str(caught.value)
    assert message.startswith(f"/project/trackflow.yaml line {line}: "), message
    assert fragment in message


def test_empty_missing_and_non_mapping_specs(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        parse_spec("")
    with pytest.raises(InvalidInputError, match="line 1: the spec must be a mapping"):
        parse_spec("- name: a\n")
    with pytest.raises(InvalidInputError, match="`name` is required"):
        parse_spec("flow: trackflow.flows:training_pipeline\n")
    with pytest.raises(NotFoundError, match="No pipeline spec"):
        load_spec(tmp_path / "missing.yaml")


def test_overrides_are_yaml_scalars_and_dotted_keys_nest() -> None:
    assert parse_overrides(["test_size=0.3", "stratify=false", "name=abc", "n=5", "empty="]) == {
        "test_size": 0.3, "stratify": False, "name": "abc", "n": 5, "empty": ""}
    assert parse_overrides(["estimator_params.max_depth=3", "estimator_params.criterion=gini"]) == {
        "estimator_params": {"max_depth": 3, "criterion": "gini"}}
    for bad in ("novalue", "=3", "bad-key=1"):
        with pytest.raises(InvalidInputError):
            parse_overrides([bad])


def test_the_example_specs_are_valid(tmp_path: Path) -> None:
    from trackflow.deployments.launch import check_flow_parameters, load_flow

    examples = Path(__file__).resolve().parents[2] / "examples" / "churn"
    spec = load_spec(examples / "trackflow.yaml")
    flow = load_flow(spec.flow)
    assert check_flow_parameters(flow, spec.flow_parameters(), spec=spec)["model_name"] == "churn-clf"
    csv_spec = load_spec(examples / "trackflow-csv.yaml")
    assert csv_spec.retrain_on is not None and csv_spec.retrain_on.data_changed.name == "churn.csv"
    assert csv_spec.schedule is not None and csv_spec.schedule.kind == "interval"
