"""``trackflow models``: list, show, versions, promote, alias, history."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from cli_helpers import invoke
from sklearn.linear_model import LogisticRegression

from trackflow.tracking.client import Client


@pytest.fixture
def registered(client: Client) -> Client:
    """Model ``churn`` with versions 1 (production, alias champion) and 2 (development)."""
    frame = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.8, 0.1]})
    model = LogisticRegression().fit(frame, [0, 1, 0, 1])
    for _ in range(2):
        client.registry.register_model(model, "churn", run_id=client.create_run("churn").id)
    client.registry.transition("churn", 1, "production", reason="first")
    client.registry.set_alias("churn", "champion", 1)
    client.registry.update_model("churn", description="Predicts churn.\nSecond line.", tags={"team": "risk"})
    return client


def test_list_show_and_versions(registered: Client, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["models", "list"], capsys)
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "LATEST", "PRODUCTION", "STAGING", "ALIASES", "UPDATED_AT", "DESCRIPTION"]
    assert row.split()[:4] == ["churn", "2", "1", "champion=1"]
    code, out, _ = invoke(["models", "list", "--format", "json"], capsys)
    assert json.loads(out)[0]["name"] == "churn" and json.loads(out)[0]["production"] == "1"
    code, out, _ = invoke(["models", "show", "churn"], capsys)
    assert code == 0
    assert "Predicts churn." in out and "Second line." in out and "team" in out and "(not deployed)" in out
    lines = out.splitlines()
    versions_at = lines.index("versions:")
    assert lines[versions_at + 2].split()[:4] == ["2", "development", "READY", registered.registry.get_version("churn", 2).run_id]
    assert lines[versions_at + 3].split()[:4] == ["1", "production", "READY", "champion"]
    code, out, _ = invoke(["models", "show", "churn", "-f", "json"], capsys)
    shown = json.loads(out)[0]
    assert shown["aliases"] == {"champion": 1} and [v["version"] for v in shown["versions"]] == [1, 2]
    code, out, _ = invoke(["models", "versions", "churn", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["version"], r["stage"], r["aliases"]) for r in rows] == [("2", "development", ""), ("1", "production", "champion")]
    assert rows[0]["source"].startswith("runs:/")
    code, out, _ = invoke(["models", "versions", "churn", "--stage", "production", "-f", "json"], capsys)
    assert [v["version"] for v in json.loads(out)] == [1]


def test_promote_alias_and_history(registered: Client, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["models", "promote", "churn", "2", "production", "--reason", "beats v1"], capsys)
    assert (code, out.strip()) == (0, "churn version 2: development -> production")
    code, out, _ = invoke(["models", "alias", "churn", "champion", "2"], capsys)
    assert (code, out.strip()) == (0, "churn@champion -> version 2")
    assert registered.registry.resolve("models:/churn@champion").version == 2
    code, out, _ = invoke(["models", "history", "churn", "--format", "json"], capsys)
    history = json.loads(out)
    assert [(h["version"], h["from"], h["to"], h["reason"]) for h in history][-3:] == [
        (1, "development", "production", "first"),
        (1, "production", "archived", "replaced in production by version 2"),
        (2, "development", "production", "beats v1"),
    ]
    code, out, _ = invoke(["models", "history", "churn", "--version", "2"], capsys)
    assert code == 0 and "beats v1" in out and "first" not in out
    code, out, _ = invoke(["models", "delete-alias", "churn", "champion"], capsys)
    assert code == 0 and registered.registry.get_model("churn").aliases == {}


ERRORS = [
    (["models", "show", "bad name"], "Error: Invalid model name 'bad name'."),
    (["models", "show", "ghost"], "Error: No registered model named 'ghost'. Registered models: churn."),
    (["models", "promote", "churn", "1", "development"], "Error: Version 1 of 'churn' cannot move from production to development."),
    (["models", "promote", "churn", "9", "staging"], "Error: Model 'churn' has no version 9."),
    (["models", "alias", "churn", "Bad Alias", "1"], "Error: Invalid model alias 'Bad Alias'."),
    (["models", "versions", "churn", "--stage", "live"], "Error: Unknown stage 'live'."),
]  # fmt: skip


def test_errors_exit_1_with_one_line(registered: Client, capsys: pytest.CaptureFixture[str]) -> None:
    before = [(v.version, v.stage, v.aliases) for v in registered.registry.list_versions("churn")]
    for args, message in ERRORS:
        code, out, err = invoke(args, capsys)
        assert code == 1 and out == "", args
        first, *rest = err.strip().splitlines()
        assert first.startswith(message), (args, first)
        assert all(line.startswith("Hint:") for line in rest) and len(rest) <= 1
    assert [(v.version, v.stage, v.aliases) for v in registered.registry.list_versions("churn")] == before


def test_empty_registry(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(["models", "list"], capsys) == (0, "(none)\n", "")
    code, out, _ = invoke(["models", "list", "-f", "csv"], capsys)
    assert code == 0 and out.strip() == "name,latest,production,staging,aliases,updated_at,description"
