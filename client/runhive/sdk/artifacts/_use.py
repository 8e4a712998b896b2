"""`run.use_artifact` (W&B's `wandb.use_artifact`): an artifact version as an input of a run.

The version is found as `runhive.Api().artifact()` finds it (`[entity/][project/]name[:version_or_alias]`, the
run's own entity and project by default), or is the `Artifact` given (logged first when it is a draft, as W&B
does). The use is recorded as one line of `<run.dir>/used_artifacts.jsonl` (the version, `entity/project/name:vN`,
and the run that logged it), which `ApiRun.used_artifacts()` and `Artifact.used_by()` read. Returns the stored
version, whose `download()` copies its files.
"""

from __future__ import annotations

import os
import time
from typing import Any

from runhive.errors import UsageError
from runhive.protocol import artifact_store as _store

from ._artifact import Artifact, log_artifact

USED = _store.USED


def record_use(run: Any, qualified: str, run_path: str) -> None:
    os.makedirs(run.dir, exist_ok=True)
    _store.append_line(run.dir, USED, {"artifact": qualified, "run_path": run_path, "time": time.time()})


def use_artifact(
    run: Any, artifact_or_name: Any, type: str | None = None, aliases: Any = None, use_as: str | None = None
) -> Any:
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.public._artifacts import StoredArtifact, find

    if isinstance(artifact_or_name, StoredArtifact):
        rec = artifact_or_name._record
        record_use(run, rec.qualified, rec.run_path)
        return artifact_or_name
    if isinstance(artifact_or_name, Artifact):
        art = artifact_or_name
        if art.version is None:
            log_artifact(run, art, aliases=aliases)
        if art._stored is None:
            raise UsageError(f"use_artifact: artifact {art.name!r} has no stored version to use.")
        record_use(run, art.qualified_name, art._run_path)
        return art
    if not isinstance(artifact_or_name, str):
        raise ValueError(
            f"use_artifact: pass an artifact name ('name:alias') or a runhive.Artifact, got {artifact_or_name!r}."
        )
    backend = LocalBackend(run.settings.store_path)
    try:
        record = find(backend, artifact_or_name, run.project, run.entity)
        if type is not None and record.type != type:
            raise UsageError(f"artifact {record.qualified} is of type {record.type!r}, not {type!r}")
        stored = StoredArtifact(backend, record)
    finally:
        backend.close()
    record_use(run, record.qualified, record.run_path)
    return stored
