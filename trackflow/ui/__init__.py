"""``trackflow ui``: a read-only web app (pages and ``/api`` JSON) over the tracking store.

:func:`trackflow.ui.app.create_app` builds the FastAPI app; ``trackflow ui`` serves it with
uvicorn. Nothing here writes to the store and Prefect is not imported.
"""

from __future__ import annotations

__all__: list[str] = []
