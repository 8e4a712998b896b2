"""Models and links (W&B's `run.log_model`, `use_model`, `link_model`, `link_artifact` and `Artifact.link`).

A link puts a version into another collection, a "portfolio" such as a registered model
(`<entity>/model-registry/<name>`) or a registry collection (`wandb-registry-<registry>/<name>`), without copying
anything: the linked version (`<collection>:vN`, numbered in that collection; "latest" plus the aliases given)
names its source and carries the same files. Linking the same version again gives back the same linked version,
its aliases moved. `Api().artifact("<entity>/<project or registry>/<name>:vN")` reads it back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from runhive.errors import UsageError
from runhive.protocol import artifact_store as _store
from runhive.sdk._termlog import LazyLogger

from ._artifact import NAME_RE, Artifact, _resolve_aliases, set_links

REGISTRY_PREFIX = "wandb-registry-"  # W&B's registry projects
MODEL_REGISTRY = "model-registry"  # the project link_model() links into, as W&B


logger = LazyLogger()


def split_target(target_path: str) -> tuple[str | None, str | None, str]:
    """W&B's `ArtifactPath.from_str`: `name`, `project/name` or `prefix/project/name`."""
    if not isinstance(target_path, str) or not target_path:
        raise ValueError(
            f"link: target_path must be a str such as 'model-registry/my-model', got {target_path!r}."
        )
    parts = target_path.split("/")
    if len(parts) > 3 or not all(parts):
        raise ValueError(f"Invalid artifact path: {target_path!r}")
    name = parts[-1]
    if ":" in name or not NAME_RE.match(name):
        raise ValueError(
            f"link: the collection name {name!r} (in target_path={target_path!r}) may only contain alphanumeric "
            "characters, dashes, underscores and dots; give no version or alias."
        )
    project = parts[-2] if len(parts) >= 2 else None
    prefix = parts[0] if len(parts) == 3 else None
    return prefix, project, name


def link(
    artifact: Artifact,
    target_path: str,
    aliases: Iterable[str] | None = None,
    entity: str | None = None,
    project: str | None = None,
    run: Any = None,
) -> Any:
    """Link a logged version (a draft is logged first, to the active run) into `target_path`; returns the linked
    version read back (a `StoredArtifact`). Missing parts of the target default to `entity`/`project` when given
    (a run's), else the source's entity and the configured project ("uncategorized" without one), as W&B. A
    version read from a team server is linked there; a link made by a run (`run`, else this process's active
    run) is noted in its directory, for its daemon to make it on the team server it logs to."""
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.backends._local_files import record_of
    from runhive.apis.public._artifacts import StoredArtifact

    if artifact.is_link:
        logger.warning(
            "Linking to a link artifact will result in directly linking to the source artifact of that link "
            "artifact."
        )
        artifact = artifact.source_artifact  # type: ignore[attr-defined]
    if artifact.version is None:
        artifact.save()
    source = artifact._stored
    prefix, proj, name = split_target(target_path)
    if proj is None:
        from runhive.sdk._setup import base_settings

        proj = project or base_settings().project or "uncategorized"
    if source is None and getattr(artifact, "_record", None) is not None:  # a version on a team server
        backend = artifact._backend  # type: ignore[attr-defined]
        record = backend.link_artifact(
            artifact._record,  # type: ignore[attr-defined]
            prefix or entity or artifact.entity,  # type: ignore[attr-defined]
            proj,
            name,
            _resolve_aliases(aliases),
        )
        return StoredArtifact(backend, record, getattr(artifact, "_run_class", None))
    if source is None:
        raise UsageError(f"Artifact.link: artifact {artifact.name!r} has no stored version to link.")
    ent = prefix or entity or source.entity
    doc = {
        "entity": ent,
        "project": proj,
        "name": name,
        "type": source.doc.get("type"),
        "description": source.doc.get("description"),
        "metadata": source.doc.get("metadata") or {},
        "tags": [],
        "digest": source.digest,
        "created_at": time.time(),
        "run": "",
        "source": source.qualified,
        "files": source.doc.get("files") or [],
    }
    linked, _ = _store.commit(source.root, doc, _resolve_aliases(aliases), dedupe_on="source")
    if run is None:
        from runhive.sdk import _globals

        run = _globals.most_recent_active()
    if run is not None and getattr(run, "dir", None):
        line = {"artifact": linked.qualified, "source": source.qualified, "time": time.time()}
        _store.append_line(run.dir, _store.LINKED, line)
    return StoredArtifact(LocalBackend(source.root.parent / "runhive.db"), record_of(linked))


def linked_to(source: _store.StoredVersion) -> list[Any]:
    """The linked versions pointing at `source`, read back (`StoredArtifact`s)."""
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.backends._local_files import record_of
    from runhive.apis.public._artifacts import StoredArtifact

    backend = LocalBackend(source.root.parent / "runhive.db")
    return [
        StoredArtifact(backend, record_of(v))
        for v in _store.versions(source.root)
        if v.source == source.qualified
    ]


def link_artifact(run: Any, artifact: Any, target_path: str, aliases: Iterable[str] | None = None) -> Any:
    """W&B's `run.link_artifact`: a draft is logged to `run` first; a target that is not a registry's gets the
    run's entity and project where it names none."""
    if not isinstance(artifact, Artifact):
        raise TypeError(f"link_artifact: pass a runhive.Artifact, got {type(artifact).__name__}.")
    if artifact.version is None:
        run.log_artifact(artifact)
    _, proj, _ = split_target(target_path)
    registry = bool(proj and proj.startswith(REGISTRY_PREFIX))
    return link(
        artifact,
        target_path,
        aliases,
        entity=run.entity,
        project=None if registry else run.project,
        run=run,
    )


def log_model(run: Any, path: Any, name: str | None = None, aliases: Any = None) -> None:
    """W&B's `run.log_model`: the file or directory at `path` as a `model` artifact (named
    `run-<id>-<basename>` by default). Returns None, as W&B."""
    run.log_artifact(path, name=name, type="model", aliases=aliases)


def _check_model(artifact: Any) -> None:
    if "model" not in str(artifact.type).lower():
        raise AssertionError(
            "You can only use this method for 'model' artifacts. For an artifact to be a 'model' artifact, its "
            "type property must contain the substring 'model'."
        )


def use_model(run: Any, name: str) -> str:
    """W&B's `run.use_model`: use the model artifact `name` and download it; the path of its one file, or of
    the directory holding its files."""
    artifact = run.use_artifact(name)
    _check_model(artifact)
    path = str(artifact.download())
    entries = os.listdir(path)
    return os.path.join(path, entries[0]) if len(entries) == 1 else path


def link_model(
    run: Any, path: Any, registered_model_name: str, name: str | None = None, aliases: Any = None
) -> Any:
    """W&B's `run.link_model`: log `path` as a version of the model artifact `name` (type as the existing
    artifact's, else "model"; identical contents give the existing version) and link it into
    `<entity>/model-registry/<registered_model_name>`. Returns the linked version."""
    if len(str(registered_model_name).split("/")) != 1:
        raise AssertionError(
            "Please provide only the name of the registered model. Do not append the entity or project name."
        )
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.public._artifacts import find

    kind = "model"
    if name is not None:
        backend = LocalBackend(run.settings.store_path)
        try:
            existing = find(backend, f"{name}:latest", run.project, run.entity)
        except UsageError:
            existing = None
        finally:
            backend.close()
        if existing is not None:
            _check_model(existing)
            kind = existing.type
    artifact = run.log_artifact(path, name=name, type=kind)
    return link_artifact(run, artifact, f"{run.entity}/{MODEL_REGISTRY}/{registered_model_name}", aliases)


class _Links:
    """What `Artifact.link` and `Artifact.linked_artifacts` call (see `_artifact.Links`)."""

    link = staticmethod(link)
    linked_to = staticmethod(linked_to)


set_links(_Links())
