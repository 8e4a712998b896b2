"""`run.use_artifact` (W&B's `wandb.use_artifact`): an artifact version as an input of a run.

The version is found as `runhive.Api().artifact()` finds it (`[entity/][project/]name[:version_or_alias]`, the
run's own entity and project by default), or is the `Artifact` given (logged first when it is a draft, as W&B
does). The use is recorded as one line of `<run.dir>/used_artifacts.jsonl` (the version's directory and the run
that logged it), which `ApiRun.used_artifacts()` and `Artifact.used_by()` read. Returns the stored version, whose
`download()` copies its files.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from runhive.errors import UsageError

from ._artifact import Artifact, log_artifact

USED = "used_artifacts.jsonl"


def record_use(run: Any, directory: str, run_path: str, qualified: str) -> None:
    line = json.dumps(
        {"directory": directory, "run_path": run_path, "artifact": qualified, "time": time.time()}
    )
    with open(os.path.join(run.dir, USED), "a", encoding="utf-8") as f:
        f.write(line + "\n")


def use_artifact(
    run: Any, artifact_or_name: Any, type: str | None = None, aliases: Any = None, use_as: str | None = None
) -> Any:
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.public._artifacts import StoredArtifact, find

    if isinstance(artifact_or_name, StoredArtifact):
        rec = artifact_or_name._record
        record_use(run, str(rec.handle), rec.run_path, rec.qualified)
        return artifact_or_name
    if isinstance(artifact_or_name, Artifact):
        art = artifact_or_name
        if art.version is None:
            log_artifact(run, art, aliases=aliases)
        if not art.logged_dir:
            raise UsageError(f"use_artifact: artifact {art.name!r} has no stored version to use.")
        path = getattr(art, "_run_path", "") or f"{run.entity}/{run.project}/{run.id}"
        entity, project, _ = path.split("/")
        record_use(run, art.logged_dir, path, f"{entity}/{project}/{art.name}:{art.version}")
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
    record_use(run, str(record.handle), record.run_path, record.qualified)
    return stored
