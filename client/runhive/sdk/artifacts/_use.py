"""`run.use_artifact` (W&B's `wandb.use_artifact`): an artifact version as an input of a run.

The version is found as `runhive.Api().artifact()` finds it (`[entity/][project/]name[:version_or_alias]`, the
run's own entity and project by default), or is the `Artifact` given (logged first when it is a draft, as W&B
does). The use is recorded as one line of `<run.dir>/used_artifacts.jsonl`, which `ApiRun.used_artifacts()` and
`Artifact.used_by()` read and the daemon's uploader sends to the team server. Returns the stored version, whose
`download()` copies its files.

Where a name is looked up:

- A run without a team server (or offline): in the node's artifact store (`LocalBackend`); the line is
  `{"artifact": "entity/project/name:vN", "run_path": the logging run}`.
- A run that logs to a team server (`run.settings.base_url`, with the key `init()` resolved): on the server, the
  team's source of truth, so `latest` is the team's latest whichever node logged it, and the numbers are the
  server's. The version returned reads its files from the server. The line names it as the server does:
  `{"server": URL, "server_artifact": "entity/project/name:vN", "digest": the manifest's digest, "run_path"}`
  (the uploader sends the use by collection and digest, `runhive_service.daemon._upload_files`), plus
  `"artifact"`, the node's own version with the same contents, when the node's store has one (the node's read API
  then shows the use too, and the uploader can send that version should the server lack it).
  A name the server does not have (a version logged on this node not uploaded yet, a registry link, which stays on
  the node) is looked up in the node's store as before; so is any name when the server cannot be reached (with a
  warning: the node's numbers may differ from the server's). Otherwise the error names the server and the
  artifact. The server's refusals (no read permission) are raised as they are.
"""

from __future__ import annotations

import os
import time
from typing import Any

from runhive.errors import CommError, UsageError
from runhive.protocol import artifact_store as _store

from ._artifact import Artifact, _data_dir, log_artifact

USED = _store.USED


def record_use(run: Any, qualified: str, run_path: str, **server: str) -> None:
    """One line of the run's `used_artifacts.jsonl`; `server` adds the keys of a version read from the team server
    (`server`, `server_artifact`, `digest`), and `qualified` may then be empty (no such version on the node)."""
    os.makedirs(run.dir, exist_ok=True)
    doc: dict[str, Any] = {"artifact": qualified} if qualified else {}
    doc.update(server)
    doc.update(run_path=run_path, time=time.time())
    _store.append_line(run.dir, USED, doc)


def _record_server_use(run: Any, backend_url: str, record: Any) -> None:
    """The use of a version the server holds, with the node's version of the same contents when there is one."""
    digest = _store.manifest_digest(record.files)
    local = ""
    try:
        for v in _store.versions(_store.artifacts_root(_data_dir(run)), record.entity, record.project):
            if v.name == record.name and v.digest == digest and not v.source:
                local = v.qualified
    except ValueError:  # a name the node's store cannot hold as a directory: the node has no such version
        pass
    record_use(
        run, local, record.run_path, server=backend_url, server_artifact=record.qualified, digest=digest
    )


def _team_server(run: Any) -> tuple[str, str] | None:
    """(URL, key) of the team server the run logs to, None for a run kept on the node (offline, or no server)."""
    settings = run.settings
    if getattr(run, "offline", False) or not getattr(settings, "base_url", None):
        return None
    from runhive.sdk._credentials import server_for

    # The same resolution init() made for this run: its base_url is the server it resolved.
    return server_for(settings.base_url, settings.api_key, settings.extra.get("anonymous"))


def _find_local(run: Any, name: str) -> Any:
    """(backend, record) of `name` in the node's artifact store; UsageError when it has none."""
    from runhive.apis.backends._local import LocalBackend
    from runhive.apis.public._artifacts import find

    backend = LocalBackend(run.settings.store_path)
    try:
        return backend, find(backend, name, run.project, run.entity)
    finally:
        backend.close()


def _find_on_server(run: Any, name: str, url: str, key: str) -> tuple[Any, Any, bool]:
    """(backend, record, on the server) of `name`: the server's version, else the node's (see the module's
    docstring); CommError / UsageError naming the server and the artifact when neither has it."""
    from runhive.apis.backends._server import ServerBackend
    from runhive.apis.public._artifacts import pick, split_artifact_path
    from runhive.sdk._termlog import LazyLogger

    server = ServerBackend(url, key)
    proj, artifact, alias = split_artifact_path(name, run.project, run.entity)
    entity, _, project = proj.rpartition("/")
    try:
        candidates = [v for v in server.artifact_versions(entity or None, project) if v.name == artifact]
    except CommError as exc:
        try:
            backend, record = _find_local(run, name)
        except UsageError as local:
            raise CommError(
                f"use_artifact({name!r}): {exc}, and this node's artifact store has no such version ({local}). "
                f"Start the team server at {url} again (or check RUNHIVE_BASE_URL / `runhive login`), or name a "
                "version logged on this node."
            ) from None
        LazyLogger().warning(
            "use_artifact(%r): %s; using this node's version %s (the server may number it differently)",
            name,
            exc,
            record.qualified,
        )
        return backend, record, False
    try:
        return server, pick(candidates, artifact, alias, proj), True
    except UsageError as missing:
        try:
            backend, record = _find_local(run, name)
        except UsageError:
            raise UsageError(
                f"use_artifact({name!r}): {missing} on the team server at {url}, nor in this node's artifact "
                "store; log it first (run.log_artifact), or check the name, project and entity."
            ) from None
        return backend, record, False


def use_artifact(
    run: Any, artifact_or_name: Any, type: str | None = None, aliases: Any = None, use_as: str | None = None
) -> Any:
    from runhive.apis.backends._server import ServerBackend
    from runhive.apis.public._artifacts import StoredArtifact

    if isinstance(artifact_or_name, StoredArtifact):
        rec = artifact_or_name._record
        backend = artifact_or_name._backend
        if isinstance(backend, ServerBackend):  # read with Api(base_url=...): a version of that server
            _record_server_use(run, backend.base_url, rec)
        else:
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
    server = _team_server(run)
    if server is None:
        backend, record = _find_local(run, artifact_or_name)
        on_server = False
    else:
        backend, record, on_server = _find_on_server(run, artifact_or_name, *server)
    if type is not None and record.type != type:
        raise UsageError(f"artifact {record.qualified} is of type {record.type!r}, not {type!r}")
    stored = StoredArtifact(backend, record)
    if on_server:
        _record_server_use(run, backend.base_url, record)
    else:
        record_use(run, record.qualified, record.run_path)
    return stored
