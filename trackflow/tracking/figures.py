"""Figures as artifacts: a matplotlib or plotly figure saved as PNG and SVG, usable as evidence.

``log_figure(client, run_id, fig, "plots/age.png")`` stores ``plots/age.png`` and
``plots/age.svg`` (the extension given, if any, is replaced). A matplotlib figure is drawn
with ``savefig``; a plotly figure with ``write_image`` when kaleido is installed, else as a
stand-alone ``plots/age.html`` (plotly's own JavaScript inlined). The returned
:class:`LoggedFigure` has ``ref``, the ``artifact:<uri>`` of its first file: pass it (or
the object) as a note's evidence.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Artifact

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = ["LoggedFigure", "log_figure", "figure_formats"]

_IMAGE_SUFFIXES = (".png", ".svg", ".html", ".jpg", ".jpeg", ".pdf")


@dataclass(frozen=True)
class LoggedFigure:
    """A figure stored as artifacts of a run; ``ref`` is the lineage node of its first file."""

    run_id: str
    path: str
    artifacts: tuple[Artifact, ...]

    @property
    def ref(self) -> str:
        """``artifact:<uri>`` of the first file (the PNG, or the HTML of a plotly figure without kaleido)."""
        return f"artifact:{self.artifacts[0].uri}"


def figure_formats(figure: Any) -> tuple[str, ...]:
    """The formats a figure is saved in: ``("png", "svg")``, or ``("html",)`` for a plotly
    figure when kaleido is missing. InvalidInputError for anything that is not a figure."""
    module = type(figure).__module__
    if module.startswith("matplotlib") and hasattr(figure, "savefig"):
        return ("png", "svg")
    if module.startswith("plotly") and hasattr(figure, "to_html"):
        try:
            import kaleido  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            return ("html",)
        return ("png", "svg")
    raise InvalidInputError(
        f"log_figure needs a matplotlib or plotly figure, got {type(figure).__name__}.",
        hint="For a matplotlib pyplot chart pass plt.gcf().",
    )


def _render(figure: Any, fmt: str, target: Path) -> None:
    if type(figure).__module__.startswith("matplotlib"):
        figure.savefig(target, format=fmt, bbox_inches="tight")
    elif fmt == "html":
        target.write_text(figure.to_html(include_plotlyjs=True, full_html=True), encoding="utf-8")
    else:
        figure.write_image(str(target), format=fmt)


def log_figure(client: Client, run_id: str, figure: Any, path: str) -> LoggedFigure:
    """Store ``figure`` under ``path`` (see the module docstring); returns the stored files."""
    if not isinstance(path, str) or not path.strip("/ "):
        raise InvalidInputError("log_figure needs an artifact path such as 'plots/age.png'.")
    formats = figure_formats(figure)
    pure = PurePosixPath(path.strip("/"))
    stem = pure.stem if pure.suffix.lower() in _IMAGE_SUFFIXES else pure.name
    folder = str(pure.parent) if str(pure.parent) != "." else None
    stored: list[Artifact] = []
    with tempfile.TemporaryDirectory(prefix="trackflow-figure-") as tmp:
        for fmt in formats:
            target = Path(tmp) / f"{stem}.{fmt}"
            _render(figure, fmt, target)
            stored += client.log_artifact(run_id, target, folder)
    first = stored[0].path
    return LoggedFigure(run_id=stored[0].run_id, path=first, artifacts=tuple(stored))
