"""``RegistryClient.why(uri)``: why a model version is what and where it is, from the records.

The mixin is a base class of :class:`~trackflow.registry.client.RegistryClient`; the report
is built by :mod:`trackflow.registry.why_build` and rendered by
:mod:`trackflow.registry.why_render` (text for ``trackflow models why``, markdown for the
model card and ``trackflow ui``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trackflow.registry.why_report import WhyReport

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = ["WhyMixin", "WhyReport", "why"]


class WhyMixin:
    """Adds :meth:`why` to the registry client."""

    _client: Client

    def why(self, uri: str) -> WhyReport:
        """The chain of reasons behind the version ``uri`` names (``models:/name@alias``, ``/stage``, ``/version``).

        Its promotion decision and the values compared, its evaluation metrics against the
        previous version, the notes (decisions, assumptions, findings) upstream of it in the
        pipeline and the exploration that informed it, each with its evidence, and the
        datasets it trained on with what changed since the previous version. Render it with
        :func:`~trackflow.registry.why_render.render_why_text` or ``render_why_markdown``.
        """
        from trackflow.registry.why_build import build_why_report

        return build_why_report(self._client, self, uri)


def why(uri: str, *, client: Any = None) -> WhyReport:
    """``Client().registry.why(uri)`` on the default client (or ``client``)."""
    if client is None:
        from trackflow.tracking.fluent import get_client

        client = get_client()
    from trackflow.registry.why_build import build_why_report

    return build_why_report(client, client.registry, uri)
