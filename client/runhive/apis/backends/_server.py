"""A team server as a read backend: `runhive server`'s read API (`/api/v1/...`, JSON over HTTP), with the standard
library only (`urllib.request`), so reading from a server adds no dependency to the client.

It returns the same records as the local store (`LocalBackend`) for the same data. A refusal is a `UsageError`
with the server's own words (it names the user, the project and the fix: "permission denied: user 'bob' may not
read 'alice/cifar' (private); ..."; "not logged in: ..."; "invalid API key: ..."); a server that cannot be reached,
or that fails, is a `CommError` naming its address.

Run files and artifact versions (`/api/v1/files/...`, `/api/v1/artifacts...`: versions, lineage, file bytes) come
from the server's file store, each download checked against its sha256.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from runhive.errors import CommError, UsageError

from ._base import ArtifactRecord, ProjectRecord, RunRecord, RunsQuery, Series, SweepRecord

if TYPE_CHECKING:
    from ._base import FileRecord

_RUN_FIELDS = (
    "id entity project name notes tags group job_type state exit_code config summary metadata dir created_at "
    "updated_at last_step history_rows"
).split()
_SWEEP_FIELDS = "id entity project name config state created_at".split()


# Fields a record may have beyond those above (e.g. `sweep`): taken from the server's answer when both know them.
_RUN_KNOWN = {f.name for f in dataclasses.fields(RunRecord)} - {"handle"}


def _run(doc: dict[str, Any]) -> RunRecord:
    record = RunRecord(**{f: doc[f] for f in _RUN_KNOWN if f in doc or f in _RUN_FIELDS})
    record.handle = (record.entity, record.project, record.id)
    return record


def _sweep(doc: dict[str, Any]) -> SweepRecord:
    record = SweepRecord(**{f: doc[f] for f in _SWEEP_FIELDS})
    record.handle = (record.entity, record.project, record.id)
    return record


class ServerBackend:
    """Reads from the team server at `base_url` with `api_key` (`Authorization: Bearer KEY`)."""

    # The read API pages runs in creation order; filters are applied by `Api().runs()` to the runs read.
    order_fields = frozenset({"created_at"})
    filter_fields: frozenset[str] = frozenset()

    def __init__(self, base_url: str, api_key: str | None, timeout: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._timeout = timeout if timeout is not None else 60.0

    @property
    def where(self) -> str:
        return f"the team server at {self.base_url}"

    def close(self) -> None:
        pass  # urllib keeps no connection open between requests

    # -- HTTP -----------------------------------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        query = urllib.parse.urlencode(
            [(k, v) for k, v in (params or {}).items() if v is not None and not isinstance(v, list)]
            + [(k, x) for k, v in (params or {}).items() if isinstance(v, list) for x in v]
        )
        url = f"{self.base_url}/api/v1/{path}" + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        data = None
        if body is not None:
            data = json.dumps(body, allow_nan=True).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> Exception:
        """The error a failed request raises: UsageError for the server's 4xx refusals (with its words),
        CommError for the rest."""
        if isinstance(exc, urllib.error.HTTPError):
            try:
                message = json.loads(exc.read().decode("utf-8")).get("error") or exc.reason
            except (ValueError, AttributeError):
                message = exc.reason
            if 400 <= exc.code < 500:
                return UsageError(f"{self.where} refused (HTTP {exc.code}): {message}")
            return CommError(f"{self.where} failed (HTTP {exc.code}): {message}")
        return CommError(f"cannot reach {self.where}: {getattr(exc, 'reason', exc)}")

    @staticmethod
    def _path(run: RunRecord) -> dict[str, Any]:
        return {"entity": run.entity, "project": run.project, "run_id": run.id}

    # -- runs -------------------------------------------------------------------------------------------------------

    def runs(self, entity: str | None, project: str, newest_first: bool = False) -> list[RunRecord]:
        params = {"entity": entity, "project": project, "order": "desc" if newest_first else "asc"}
        return [_run(d) for d in self._call("runs", params)["runs"]]

    def _page(self, query: RunsQuery, offset: int, limit: int) -> dict[str, Any]:
        if query.order != "created_at" or query.where is not None:
            raise ValueError(f"the team server's read API pages runs by creation time only, not {query}")
        params = {
            "entity": query.entity,
            "project": query.project,
            "order": "desc" if query.descending else "asc",
            "limit": limit,
            "offset": offset,
        }
        reply: dict[str, Any] = self._call("runs", params)
        if "total" not in reply:  # a server from before paging answers every run: take the page here
            reply = {"runs": reply["runs"][offset : offset + limit], "total": len(reply["runs"])}
        return reply

    def runs_page(self, query: RunsQuery, offset: int, limit: int) -> list[RunRecord]:
        return [_run(d) for d in self._page(query, offset, limit)["runs"]]

    def count_runs(self, query: RunsQuery) -> int:
        return int(self._page(query, 0, 0)["total"])

    def find_runs(self, entity: str | None, project: str | None, run_id: str) -> list[RunRecord]:
        params = {"entity": entity, "project": project, "run_id": run_id}
        return [_run(d) for d in self._call("runs/find", params)["runs"]]

    def sweep_runs(self, sweep: SweepRecord) -> list[RunRecord]:
        params = {"entity": sweep.entity, "project": sweep.project, "sweep_id": sweep.id}
        return [_run(d) for d in self._call("sweeps/runs", params)["runs"]]

    def projects(self, entity: str | None = None) -> list[ProjectRecord]:
        docs = self._call("projects", {"entity": entity})["projects"]
        return [ProjectRecord(d["entity"], d["name"], d["runs"], d["last_run_at"]) for d in docs]

    def runs_since(self, entity: str | None, project: str, since: float) -> list[RunRecord]:
        params = {"entity": entity, "project": project, "since": repr(float(since))}
        return [_run(d) for d in self._call("runs", params)["runs"]]

    # -- history ------------------------------------------------------------------------------------------------------

    def scan_history(
        self,
        run: RunRecord,
        keys: Sequence[str] | None,
        page_size: int,
        min_step: int | None,
        max_step: int | None,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            **self._path(run),
            "keys": list(keys or []),
            "min_step": min_step,
            "max_step": max_step,
            "limit": max(1, page_size),
        }
        while True:
            page = self._call("history", params)
            yield from page["rows"]
            if page.get("next") is None:
                return
            params["after"] = page["next"]

    def sampled_history(self, run: RunRecord, keys: list[str], samples: int) -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] | None = self._call(
            "history/sampled", {**self._path(run), "keys": list(keys), "samples": samples}
        )["rows"]
        return rows

    def system_rows(self, run: RunRecord) -> list[tuple[float, float, dict[str, Any]]]:
        return [(ts, rt, sample) for ts, rt, sample in self._call("system", self._path(run))["rows"]]

    def metrics(self, key: str, runs: Sequence[RunRecord], buckets: int) -> dict[str, Series]:
        if not runs:
            return {}
        body = {"key": key, "buckets": buckets, "runs": [[r.entity, r.project, r.id] for r in runs]}
        series: dict[str, Series] = self._call("metrics", body=body)["series"]
        return series

    # -- sweeps -------------------------------------------------------------------------------------------------------

    def sweeps(self, entity: str | None, project: str) -> list[SweepRecord]:
        return [_sweep(d) for d in self._call("sweeps", {"entity": entity, "project": project})["sweeps"]]

    def find_sweeps(self, entity: str | None, project: str | None, sweep_id: str) -> list[SweepRecord]:
        params = {"entity": entity, "project": project, "sweep_id": sweep_id}
        return [_sweep(d) for d in self._call("sweeps/find", params)["sweeps"]]

    # -- edits: not on a team server yet ---------------------------------------------------------------------------

    def _unsupported(self, what: str) -> Any:
        from . import _base

        error = getattr(_base, "NotSupportedError", UsageError)
        raise error(
            f"{what} is not available from {self.where} yet: read it from the local store of the node"
        )

    # -- artifacts: the server's `_artifacts` routes; files stream from its file store --------------------------

    def _artifact(self, doc: dict[str, Any]) -> ArtifactRecord:
        fields = {f.name for f in dataclasses.fields(ArtifactRecord)} - {"handle", "source"}
        record = ArtifactRecord(**{f: doc[f] for f in fields}, source=str(doc.get("source") or ""))
        record.handle = (record.entity, record.project, record.name, record.version)
        return record

    def artifact_versions(self, entity: str | None, project: str | None) -> list[ArtifactRecord]:
        docs = self._call("artifacts", {"entity": entity, "project": project})["artifacts"]
        return [self._artifact(d) for d in docs]

    def logged_artifacts(self, run: RunRecord) -> list[ArtifactRecord]:
        docs = self._call("artifacts/run", {**self._path(run), "kind": "logged"})["artifacts"]
        return [self._artifact(d) for d in docs]

    def used_artifacts(self, run: RunRecord) -> list[ArtifactRecord]:
        docs = self._call("artifacts/run", {**self._path(run), "kind": "used"})["artifacts"]
        return [self._artifact(d) for d in docs]

    @staticmethod
    def _version_params(artifact: ArtifactRecord) -> dict[str, Any]:
        return {
            "entity": artifact.entity,
            "project": artifact.project,
            "name": artifact.name,
            "version": artifact.version,
        }

    def artifact_users(self, artifact: ArtifactRecord) -> list[RunRecord]:
        return [_run(d) for d in self._call("artifacts/users", self._version_params(artifact))["runs"]]

    def download_artifact_file(self, artifact: ArtifactRecord, path: str, dest: str) -> None:
        """The file's bytes from the server, checked against the manifest's sha256 (the server sends the digest of
        the version's file row); a reference (`file://`, `http(s)://`) is fetched from where it points, as the local
        store does."""
        from pathlib import Path

        from runhive.protocol import artifact_store as _store

        entry = next((f for f in artifact.files if f.get("path") == path), None)
        if entry is None:
            raise KeyError(f"artifact {artifact.qualified} has no file {path!r}")
        if entry.get("ref"):
            _store.fetch(Path("."), entry, dest, f"artifact {artifact.qualified}")
            return
        query = urllib.parse.urlencode({**self._version_params(artifact), "path": path})
        self._bytes_call(f"{self.base_url}/api/v1/artifacts/file?{query}", dest=dest)

    def update_run(self, run: RunRecord, changes: dict[str, Any]) -> None:
        self._unsupported("editing a run")

    def delete_run(self, run: RunRecord, delete_artifacts: bool = False) -> None:
        """Delete the run on the server (write permission on its project); its lineage rows go with it, and with
        `delete_artifacts` the artifact versions it created."""
        self._call("runs/delete", body={**self._path(run), "delete_artifacts": bool(delete_artifacts)})

    def link_artifact(
        self, artifact: ArtifactRecord, entity: str, project: str, name: str, aliases: list[str]
    ) -> ArtifactRecord:
        source = self._version_params(artifact)
        where = f"{urllib.parse.quote(entity, safe='')}/{urllib.parse.quote(project, safe='')}"
        made = self._call(
            f"artifacts/links/{where}", body={"name": name, "aliases": aliases, "source": source}
        )
        linked = str(made["artifact"])
        docs = self._call("artifacts", {"entity": entity, "project": project, "name": name})["artifacts"]
        found = next(
            (d for d in docs if f"{d['entity']}/{d['project']}/{d['name']}:{d['version']}" == linked), None
        )
        if found is None:
            raise CommError(f"{self.where}: the link {linked} was made but cannot be read back")
        return self._artifact(found)

    def delete_artifact(self, artifact: ArtifactRecord, delete_aliases: bool = False) -> None:
        self._call(
            "artifacts/delete", body={**self._version_params(artifact), "delete_aliases": delete_aliases}
        )

    # -- run files: the server's `_files` routes; the bytes stream to and from its file store ---------------------

    def _file_url(self, run: RunRecord, name: str = "") -> str:
        parts = "/".join(urllib.parse.quote(p, safe="") for p in (run.entity, run.project, run.id))
        base = f"{self.base_url}/api/v1/files/{parts}"
        return f"{base}/{urllib.parse.quote(name, safe='/')}" if name else base

    def _bytes_call(self, url: str, dest: str | None = None, src: str | None = None) -> Any:
        """GET a file's bytes into `dest` (checked against the server's sha256), or PUT `src`'s; streamed."""
        import hashlib
        import os

        headers = {"Accept": "application/octet-stream, application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            if src is not None:
                with open(src, "rb") as f:
                    headers["Content-Type"] = "application/octet-stream"
                    headers["Content-Length"] = str(os.fstat(f.fileno()).st_size)
                    request = urllib.request.Request(url, data=f, headers=headers, method="PUT")
                    with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                        return json.loads(resp.read().decode("utf-8"))
            assert dest is not None
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=self._timeout
            ) as resp:
                want = resp.headers.get("x-runhive-sha256")
                digest = hashlib.sha256()
                with open(dest, "wb") as out:
                    while block := resp.read(1024 * 1024):
                        digest.update(block)
                        out.write(block)
            if want and digest.hexdigest() != want:
                raise CommError(f"{url}: the bytes received do not match their sha256 {want}; download again")
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise self._failure(exc) from None

    def run_files(self, run: RunRecord) -> list[FileRecord]:
        from ._base import FileRecord

        parts = "/".join(urllib.parse.quote(p, safe="") for p in (run.entity, run.project, run.id))
        return [
            FileRecord(
                d["name"], int(d["size"]), float(d["updated_at"]), handle=self._file_url(run, d["name"])
            )
            for d in self._call(f"files/{parts}")["files"]
        ]

    def download_file(self, run: RunRecord, file: FileRecord, dest: str) -> None:
        self._bytes_call(str(file.handle or self._file_url(run, file.name)), dest=dest)

    def upload_file(self, run: RunRecord, local_path: str, name: str) -> FileRecord:
        """W&B's `Run.upload_file` against the server: the file becomes the run's file `name` (write permission)."""
        import hashlib
        import time

        from ._base import FileRecord
        from ._local_files import safe_relative

        rel = "/".join(safe_relative(name, "upload_file"))
        digest = hashlib.sha256()
        with open(local_path, "rb") as f:
            while block := f.read(1024 * 1024):
                digest.update(block)
        url = self._file_url(run, rel)
        doc = self._bytes_call(f"{url}?sha256={digest.hexdigest()}", src=local_path)
        return FileRecord(rel, int(doc["size"]), time.time(), handle=url)
