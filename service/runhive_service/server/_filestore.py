"""Where the team server keeps the bytes of run files: one small interface (`FileStore`: put/get/exists/list/delete
by key) over a directory or S3-compatible storage.

Keys are relative, '/'-separated (`sha256/ab/abcdef...`). The server stores run files content-addressed: the
database's `run_files` rows map (run, path) to a sha256, and the bytes live once under `sha256/<2>/<digest>`
whatever the number of runs and paths that hold them. `put` is idempotent (a key's bytes never change), so two
replicas storing the same blob at once is harmless.

- `DirectoryStore`: files under a directory, written to a temporary name and renamed (a reader never sees half a
  blob, a crash leaves no torn one).
- `S3Store`: `s3://bucket/prefix` through boto3, which follows its own conventions for credentials and the
  endpoint (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_PROFILE`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3`,
  `AWS_DEFAULT_REGION`); `--s3-endpoint-url` overrides the endpoint (MinIO, Ceph, moto, ...).

Blobs are shared, so one goes only when no row references it (`release_blobs`, after a run is deleted). The rows
that reference blobs are found generically: every table of `_schema.metadata` with a column named `sha256` (run
files, artifact objects, and whatever table follows the convention; index that column). Referencing and removing
are serialised per blob by `lock_blob`: code that makes a row reference a blob takes it in the transaction that
writes the row and checks (`exists`, else `put`) the bytes under it; `release_blobs` takes it to check the
references and delete the bytes. Either the row commits first (the blob is seen referenced and stays), or the
removal does (the writer then finds no bytes and stores them again); no row ever names bytes that are gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.engine import URL, make_url

from ._errors import InvalidArgument
from ._schema import metadata

log = logging.getLogger("runhive.server")

CHUNK = 1024 * 1024


def blob_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256}"


def lock_blob(conn: Connection, sha256: str) -> None:
    """Hold blob `sha256` until the caller's transaction ends (see the module's docstring): on PostgreSQL a
    transaction advisory lock keyed by the digest (take several in sorted order). SQLite needs none: every
    transaction begins with `BEGIN IMMEDIATE` (`_db`), one at a time."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
        conn.execute(select(func.pg_advisory_xact_lock(key)))


def blob_tables() -> list[Table]:
    """Every table whose rows reference blobs: those with a `sha256` column (a table added later counts too)."""
    return [t for t in metadata.sorted_tables if "sha256" in t.c]


def blob_referenced(conn: Connection, sha256: str) -> bool:
    return any(
        conn.execute(select(t.c.sha256).where(t.c.sha256 == sha256).limit(1)).first() is not None
        for t in blob_tables()
    )


def release_blobs(engine: Engine, files: FileStore, digests: Iterable[str]) -> list[str]:
    """Delete the blobs among `digests` that no row references any more (call it after the transaction that
    removed the rows committed); returns the digests deleted. One short transaction per blob, holding its lock
    across the check and the removal. A failure is logged and the blob kept: bytes may leak, never go missing."""
    gone = []
    for sha in sorted(set(digests)):
        try:
            with engine.begin() as conn:
                lock_blob(conn, sha)
                if not blob_referenced(conn, sha):
                    files.delete(blob_key(sha))
                    gone.append(sha)
        except Exception as exc:
            log.warning("keeping blob %s in %s: removing it failed: %s", sha, files.where, exc)
    return gone


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"file store key {key!r} is not a relative path without '.' or '..'")
    return key


class FileStore(Protocol):
    @property
    def where(self) -> str:
        """For messages and the server's start line."""
        ...

    def put(self, key: str, src: str | os.PathLike[str]) -> None:
        """Store the local file `src` under `key` (replacing what was there)."""
        ...

    def get(self, key: str) -> Iterator[bytes]:
        """The bytes under `key`, in chunks; FileNotFoundError when there are none."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]:
        """Every key that starts with `prefix`, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; nothing when it is not there."""
        ...


class DirectoryStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def where(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def put(self, key: str, src: str | os.PathLike[str]) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> Iterator[bytes]:
        f = open(self._path(key), "rb")  # FileNotFoundError before the first chunk, as promised

        def chunks() -> Iterator[bytes]:
            with f:
                while block := f.read(CHUNK):
                    yield block

        return chunks()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        out = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                if name.startswith(".put-"):
                    continue
                key = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    out.append(key)
        return sorted(out)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidArgument(f"--files {url!r}: an S3 location is s3://BUCKET[/PREFIX]")
        try:
            import boto3
        except ImportError:
            raise InvalidArgument(
                f"--files {url!r} needs boto3: pip install 'runhive[server]' (or pip install boto3)"
            ) from None
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.url = url
        # None: boto3's own resolution (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the config file, then AWS).
        self._s3: Any = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None)

    @property
    def where(self) -> str:
        return self.url

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, src: str | os.PathLike[str]) -> None:
        self._s3.upload_file(os.fspath(src), self.bucket, self._key(key))

    def get(self, key: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            body: IO[bytes] = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{self.url}: no object {key}") from None
            raise

        def chunks() -> Iterator[bytes]:
            try:
                while block := body.read(CHUNK):
                    yield block
            finally:
                body.close()

        return chunks()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> list[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        full = (
            (f"{self.prefix}/{prefix}" if self.prefix else prefix)
            if prefix
            else (f"{self.prefix}/" if self.prefix else "")
        )
        out: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            out.extend(obj["Key"][strip:] for obj in page.get("Contents") or [])
        return sorted(out)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))


def open_file_store(
    files: str | None, db_url: str | URL, s3_endpoint_url: str | None = None
) -> FileStore | None:
    """The store `--files` names: `s3://bucket/prefix`, a directory, or (None) a `files/` directory beside a
    SQLite database. A PostgreSQL server has no place of its own on disk (its replicas may run on several
    machines, which must share one store), so without `--files` it keeps no files: None, and the file routes
    answer 503 NO_FILE_STORE, which the uploaders log and skip."""
    if files:
        if files.startswith("s3://"):
            return S3Store(files, s3_endpoint_url)
        if "://" in files:
            raise InvalidArgument(f"--files {files!r}: give a directory or s3://BUCKET[/PREFIX]")
        return DirectoryStore(files)
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return DirectoryStore(Path(url.database).absolute().parent / "files")
    return None
