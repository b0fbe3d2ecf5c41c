"""The notebook of an exploration run: finding it from inside a kernel, recording it.

Which notebook is running is not something a kernel knows for sure. In order:

1. the path given to ``tf.explore(..., notebook=...)`` / ``tf.snapshot(notebook=...)``;
2. ``TRACKFLOW_NOTEBOOK`` in the kernel's environment (set it when a notebook is executed
   by nbclient / papermill, which set nothing);
3. ``__session__`` in the IPython namespace (ipykernel copies Jupyter Server's
   ``JPY_SESSION_NAME`` there; JupyterLab / Notebook 7), then ``__vsc_ipynb_file__`` (VS Code);
4. ``JPY_SESSION_NAME`` in the environment.

When none names an existing ``.ipynb`` file but the code runs in IPython, the notebook is
rebuilt from the session's input history (``In``, the cells as executed, without outputs).
The recorded notebook is the file as last saved (Jupyter autosaves every two minutes; save
first to include the latest outputs).

Recording writes ``notebook/<name>.ipynb`` and, with ``nbconvert`` installed (the
``trackflow[notebook]`` extra), a stand-alone ``notebook/<name>.html`` rendered from it
(styles inlined, no network). A later snapshot replaces both.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Artifact

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = ["NOTEBOOK_ENV", "NotebookSnapshot", "find_notebook", "ipython_shell", "record_notebook", "render_html"]

NOTEBOOK_ENV = "TRACKFLOW_NOTEBOOK"
NOTEBOOK_FOLDER = "notebook"
logger = logging.getLogger("trackflow.tracking")


@dataclass(frozen=True)
class NotebookSnapshot:
    """What one snapshot recorded: the notebook and (when nbconvert is installed) its HTML copy."""

    source: str
    """The notebook file recorded, or ``"<ipython history>"``."""
    notebook: Artifact
    html: Artifact | None


def ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is never imported here)."""
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:  # noqa: BLE001 - no shell
        return None


def find_notebook(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The running notebook's file (see the module docstring for the order), or None."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.suffix != ".ipynb" or not path.is_file():
            raise InvalidInputError(f"No notebook (.ipynb file) at {str(path)!r}.")
        return path.resolve()
    shell = ipython_shell()
    namespace = getattr(shell, "user_ns", {}) or {}
    candidates = [os.environ.get(NOTEBOOK_ENV), namespace.get("__session__"), namespace.get("__vsc_ipynb_file__"),
                  os.environ.get("JPY_SESSION_NAME")]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate).expanduser()
            if path.is_file():
                return path.resolve()
    return None


def _history_notebook(shell: Any) -> dict[str, Any]:
    """A v4 notebook of the session's executed cells as typed (magics included), without outputs."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not history:
        history = getattr(shell, "user_ns", {}).get("In", [])
    inputs = [cell for cell in list(history)[1:] if isinstance(cell, str)]
    cells = [{"cell_type": "code", "execution_count": i + 1, "id": f"cell-{i + 1}", "metadata": {}, "outputs": [],
              "source": cell} for i, cell in enumerate(inputs) if cell.strip()]  # fmt: skip
    return {"cells": cells, "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def render_html(notebook_path: Path) -> str | None:
    """A stand-alone HTML rendering of a notebook, or None when nbconvert is not installed."""
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError:
        return None
    notebook = nbformat.read(str(notebook_path), as_version=4)  # type: ignore[no-untyped-call]
    exporter = HTMLExporter(embed_images=True)  # type: ignore[no-untyped-call]
    body, _resources = exporter.from_notebook_node(notebook)
    return str(body)


def record_notebook(
    client: Client, run_id: str, *, notebook: str | os.PathLike[str] | None = None, name: str | None = None
) -> NotebookSnapshot | None:
    """Store the running notebook (and its HTML copy) as artifacts of ``run_id``; None when
    there is no notebook to record (a plain script: its source is the run's entrypoint)."""
    path = find_notebook(notebook)
    shell = ipython_shell()
    if path is None and shell is None:
        return None
    with tempfile.TemporaryDirectory(prefix="trackflow-notebook-") as tmp:
        if path is None:
            stem = name or "session"
            path = Path(tmp) / f"{stem}.ipynb"
            path.write_text(json.dumps(_history_notebook(shell), indent=1), encoding="utf-8")
            source = "<ipython history>"
        else:
            stem = name or path.stem
            copy = Path(tmp) / f"{stem}.ipynb"
            copy.write_bytes(path.read_bytes())
            source, path = str(path), copy
        stored = client.log_artifact(run_id, path, NOTEBOOK_FOLDER)[0]
        html_artifact = None
        try:
            html = render_html(path)
        except Exception as exc:  # noqa: BLE001 - a notebook nbconvert cannot render still counts
            logger.warning("trackflow: could not render %s as HTML: %s", source, exc)
            html = None
        if html is not None:
            html_path = Path(tmp) / f"{stem}.html"
            html_path.write_text(html, encoding="utf-8")
            html_artifact = client.log_artifact(run_id, html_path, NOTEBOOK_FOLDER)[0]
    return NotebookSnapshot(source=source, notebook=stored, html=html_artifact)
