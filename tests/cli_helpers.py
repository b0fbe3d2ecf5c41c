"""Run the ``trackflow`` command line in process, for tests in every folder.

Importable as ``from cli_helpers import invoke``: ``tests/`` (no ``__init__.py``) is put on
``sys.path`` by pytest when it loads ``tests/conftest.py``, as for ``from flows.pipeline ...``.
"""

from __future__ import annotations

import pytest

from trackflow.cli.main import run as cli_run


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``trackflow <args>``; return (exit code, stdout, stderr) captured by ``capsys``."""
    try:
        cli_run(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
