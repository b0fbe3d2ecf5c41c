"""Usage mistakes: exit status 2, one error line and a hint, never a traceback; --debug anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import invoke


def _one_line_and_hint(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("Error: ") and lines[1].startswith("Hint: ") and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["runs", "lst"], "No such command 'lst'. Did you mean 'list'?"),
        (["runs", "list", "--bogus"], "No such option: --bogus"),
        (["runs", "list", "--format", "yaml"], "'yaml' is not one of 'table', 'json', 'csv'"),
        (["runs", "show"], "Missing argument 'RUN'"),
        (["runs", "diff", "abcdef"], "Missing argument 'RUN_B'"),
        (["runs", "list", "--columns", "bogus"], "unknown column 'bogus'"),
        (["lineage", "x", "--depth", "0"], "--depth"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_usage_error_is_one_line_with_hint_and_exit_2(
    args: list[str], expected: str, tracking_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(args, capsys)
    assert code == 2
    assert expected in err
    _one_line_and_hint(err)
    assert "--help" in err.splitlines()[1]


def test_bare_command_and_bare_group_print_help_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke([], capsys)
    assert code == 0 and "Usage: trackflow" in out and "runs" in out and "Traceback" not in out + err
    code, out, err = invoke(["runs"], capsys)
    assert code == 0 and "Usage: trackflow runs" in out and "diff" in out and err == ""


def test_debug_is_accepted_after_the_command(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["runs", "show", "f" * 32, "--debug"], capsys)
    assert code == 1 and "Traceback" in err and "does not exist" in err
    code, _, err = invoke(["runs", "show", "f" * 32], capsys)
    assert code == 1 and "Traceback" not in err
    _one_line_and_hint(err)
    code, _, err = invoke(["--debug", "runs", "lst"], capsys)  # a usage error with --debug: the traceback too
    assert code == 2 and "Traceback" in err and "No such command" in err


def test_trackflow_error_is_one_line_with_hint_and_exit_1(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["runs", "list", "--filter", "metrics.loss <"], capsys)
    assert code == 1 and err.startswith("Error: ") and "Hint:" in err and "Traceback" not in err


def test_a_commands_exit_code_is_kept(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from trackflow.cli import main

    probe = typer.Typer()

    @probe.command("fail")
    def fail() -> None:
        raise typer.Exit(3)

    @probe.command("other")
    def other() -> None:
        """A second command, so that the app is a group."""

    monkeypatch.setattr(main, "app", probe)
    assert invoke(["fail"], capsys)[0] == 3
