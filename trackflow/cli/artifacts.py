"""``trackflow artifacts``: list and download the files a run stored.

``RUN`` is any run reference (id, unique id prefix, Prefect flow/task-run id or name);
``PATH`` a file or folder under the run's artifacts (all of them when left out).
"""

from __future__ import annotations

from pathlib import Path

import typer

from trackflow.cli.output import OutputFormat, emit

__all__ = ["app"]

app = typer.Typer(help="Files stored by runs: list and download them.", no_args_is_help=True)

_RUN_HELP = "Run id, unique id prefix, Prefect flow/task-run id or run name."


@app.command("list")
def list_artifacts(
    ref: str = typer.Argument(..., metavar="RUN", help=_RUN_HELP),
    path: str = typer.Argument("", metavar="[PATH]", help="Only files at or under this path."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List a run's artifacts (path, size, media type, sha256)."""
    from trackflow.exceptions import NotFoundError
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_refs import resolve_run_ref

    client = Client()
    run = resolve_run_ref(client, ref)
    found = client.list_artifacts(run.id, path)
    if path and not found:
        raise NotFoundError(f"Run {run.id} has no artifact at {path!r}.", hint=f"trackflow artifacts list {run.id[:12]}")
    rows = [{"path": a.path, "size": a.size, "media_type": a.media_type, "sha256": a.sha256, "uri": a.uri} for a in found]
    emit(rows, ["path", "size", "media_type", "sha256"] if fmt is OutputFormat.table else list(rows[0]) if rows else ["path"], fmt)


@app.command("download")
def download(
    ref: str = typer.Argument(..., metavar="RUN", help=_RUN_HELP),
    path: str = typer.Argument("", metavar="[PATH]", help="A file or folder (default: every artifact of the run)."),
    output: Path = typer.Option(Path("."), "--output", "-o", help="Folder to download into (created if needed)."),
) -> None:
    """Download a run's artifacts (checked against their recorded sha256) into a folder; print where."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_refs import resolve_run_ref

    client = Client()
    run = resolve_run_ref(client, ref)
    typer.echo(str(client.download_artifacts(run.id, path, output)))
