"""Reading what the register task published to Prefect (shared by the tests of this folder)."""

from __future__ import annotations

__all__ = ["read_card"]


def read_card(key: str) -> str:
    """The newest Prefect artifact under ``key`` (a model card), as its markdown text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as prefect_client:
        found = prefect_client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert found, f"no Prefect artifact {key!r}"
    return str(found[0].data)
