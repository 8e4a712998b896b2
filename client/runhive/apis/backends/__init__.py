"""Read backends: where `runhive.Api()` reads from. The local store is the first; a team server's read API is the
next. `backend_for(settings)` picks the one the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import Backend, ProjectRecord, RunRecord, Series, SweepRecord

if TYPE_CHECKING:
    from runhive.sdk import Settings

__all__ = ["Backend", "ProjectRecord", "RunRecord", "Series", "SweepRecord", "backend_for"]


def backend_for(settings: Settings) -> Backend:
    from ._local import LocalBackend

    return LocalBackend(settings.store_path)
