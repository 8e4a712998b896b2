"""The local artifact store: files kept once by their sha256, versions numbered per project.

Layout, under the data directory (next to `runhive.db`; docs/DESIGN-NOTES.md, "Artifacts"):

    <data dir>/artifacts/
      objects/sha256/ab/cdef…       a file's bytes, named by their sha256; written once, never changed
      objects/tmp/                  objects being written (linked into place when complete)
      projects/<entity>/<project>/<name>/
        .lock                       flock'd while a version is added, aliases move or versions are deleted
        versions/v<N>.json          one version's manifest; never rewritten once it exists
        versions/v<N>.deleted       a deleted version: its number is never given again
        index/<sha256(key)>         "vN": the version with that digest (or link source), found without a scan
        aliases.json                {"alias": "vN"}; "latest" is not stored: it is the highest N

A version file is created with `os.link` from a complete temporary file, so it appears whole or not at all and two
writers can never both create `v3`; the collection's lock makes "is this content there already?" and "take the
next number" one step, so logging identical contents again (the same digest) gives back the existing version, as
W&B does. A linked version (a "portfolio" or registry collection, `Artifact.link`) is a version file whose
`source` names the version it points at, with the same files.

Only this module reads or writes that layout; a later uploader can send version files and objects to a team
server as they are (objects named by their content make resending harmless).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runhive.errors import Error

FORMAT = 1
VERSION_RE = re.compile(r"^v(\d+)$")
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")
LOGGED = "logged_artifacts.jsonl"  # in a run's directory: the versions it logged
USED = "used_artifacts.jsonl"  # in a run's directory: the versions it used
LINKED = (
    "linked_artifacts.jsonl"  # in a run's directory: the links it made (for the uploader to a team server)
)
OBJECT_GRACE = 3600.0  # seconds: a younger unreferenced object may belong to a version being committed


class ArtifactNotSupportedError(Error, NotImplementedError):
    """An Artifact feature runhive does not support (downloading s3:// or http(s):// references)."""


@dataclass
class StoredVersion:
    """One version as the store holds it: its manifest (`doc`), its aliases and its file."""

    doc: dict[str, Any]
    aliases: list[str]
    path: Path
    root: Path

    @property
    def entity(self) -> str:
        return str(self.doc["entity"])

    @property
    def project(self) -> str:
        return str(self.doc["project"])

    @property
    def name(self) -> str:
        return str(self.doc["name"])

    @property
    def version(self) -> str:
        return str(self.doc["version"])

    @property
    def qualified(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    @property
    def digest(self) -> str:
        return str(self.doc.get("digest") or "")

    @property
    def source(self) -> str | None:
        """For a linked version, the version it points at (`entity/project/name:vN`)."""
        src = self.doc.get("source")
        return str(src) if src else None


def artifacts_root(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / "artifacts"


def _check_part(value: str, what: str) -> str:
    if not value or "/" in value or "\\" in value or value.startswith(".") or "\0" in value:
        raise ValueError(
            f"artifact store: {what} {value!r} cannot name a directory (no '/', no leading '.')."
        )
    return value


def collection_dir(root: Path, entity: str, project: str, name: str) -> Path:
    return (
        root
        / "projects"
        / _check_part(entity, "entity")
        / _check_part(project, "project")
        / _check_part(name, "artifact name")
    )


# Objects ------------------------------------------------------------------------------------------------------
def object_path(root: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValueError(f"artifact store: {sha256!r} is not a sha256 hex digest.")
    return root / "objects" / "sha256" / sha256[:2] / sha256[2:]


def copy_hashing(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 20):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def put_object(root: Path, src: str | os.PathLike[str], sha256: str | None = None) -> tuple[str, int]:
    """Keep the bytes of `src` under their sha256 (once: nothing is copied when the object exists); returns
    (sha256, size). With `sha256` given, content that no longer has it is refused (changed since it was added)."""
    if sha256:
        target = object_path(root, sha256)
        with contextlib.suppress(OSError):
            st = target.stat()
            os.utime(target)  # fresh: a concurrent clean-up leaves objects being committed alone
            return sha256, st.st_size
    tmpdir = root / "objects" / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmpdir, prefix=f"{os.getpid()}-")
    os.close(fd)
    try:
        actual, size = copy_hashing(src, tmp)
        if sha256 and actual != sha256:
            raise Error(
                f"artifact file {os.fspath(src)!r} changed after it was added to the artifact (its sha256 is now "
                f"{actual[:12]}…, was {sha256[:12]}…); add it again, or use policy='mutable' to copy it when added."
            )
        os.chmod(tmp, 0o444)
        target = object_path(root, actual)
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, target)  # not replace: an object that exists is already right
        return actual, size
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def local_ref_path(ref: str) -> str:
    """The local path of a `file://` reference (W&B's `local_file_uri_to_path`)."""
    parsed = urllib.parse.urlparse(ref)
    return urllib.request.url2pathname(parsed.path if ref.startswith("file:") else ref)


HTTP_TIMEOUT = 60.0


def fetchable(ref: str) -> bool:
    """Whether runhive downloads references of this URI's scheme (file://, http(s)://; not s3://, gs://)."""
    return urllib.parse.urlparse(ref).scheme in ("file", "http", "https")


def _etag(headers: Any) -> str | None:
    etag = headers.get("ETag")
    return str(etag).strip('"') if etag else None


def http_head(url: str, what: str) -> tuple[int, str | None]:
    """(size, ETag) of an http(s) reference, as W&B reads them when it is added with checksum=True."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as rsp:
            return int(rsp.headers.get("Content-Length") or 0), _etag(rsp.headers)
    except (OSError, ValueError) as exc:
        raise Error(
            f"{what}({url!r}): cannot read it ({exc}); pass checksum=False to keep the URL without reading it."
        ) from None


def _fetch_http(url: str, etag: str | None, dest: str, what: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as rsp:
            found = _etag(rsp.headers)
            if etag and found != etag:
                raise Error(
                    f"{what}: digest mismatch for url {url!r}: expected ETag {etag!r} but found {found!r}"
                )
            with open(dest, "wb") as out:
                while chunk := rsp.read(1 << 20):
                    out.write(chunk)
    except OSError as exc:
        raise Error(f"{what}: cannot download {url!r}: {exc}") from None


def fetch(root: Path, entry: Mapping[str, Any], dest: str, what: str) -> None:
    """Copy one file of a version (an object, or a `file://` or `http(s)://` reference) to `dest`, checked against
    its sha256 (an http(s) reference: its ETag, when it was added with one)."""
    ref = entry.get("ref")
    sha = entry.get("sha256")
    path = entry.get("path")
    if ref:
        scheme = urllib.parse.urlparse(str(ref)).scheme
        if scheme in ("http", "https"):
            _fetch_http(str(ref), entry.get("etag"), dest, what)
            return
        if scheme != "file":
            raise ArtifactNotSupportedError(
                f"{what}: {path!r} is a reference to {ref!r}; runhive downloads file:// and http(s):// references, "
                f"not {scheme}:// ones. Fetch it yourself (entry.ref), or pass allow_missing_references=True to "
                "download() to skip it."
            )
        src = local_ref_path(str(ref))
        if not os.path.isfile(src):
            raise Error(f"{what}: {path!r} refers to {src!r}, which is gone.")
    else:
        src = str(object_path(root, str(sha)))
        if not os.path.isfile(src):
            raise Error(f"{what}: the stored content of {path!r} ({src}) is missing from the artifact store.")
    actual, _ = copy_hashing(src, dest)
    if sha and actual != sha:
        where = f"the referenced file {src!r} changed since it was logged" if ref else "changed on disk?"
        raise Error(f"{what}: {path} does not match its manifest's sha256 ({where})")


# Versions ------------------------------------------------------------------------------------------------------
def manifest_digest(files: Iterable[Mapping[str, Any]]) -> str:
    """An artifact's digest: of its files' paths and digests (a reference without checksum: its URI)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: str(f["path"])):
        h.update(f"{f['path']}\0{f.get('sha256') or f.get('etag') or ''}\0{f.get('ref') or ''}\n".encode())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(coll: Path) -> Iterator[None]:
    coll.mkdir(parents=True, exist_ok=True)
    with open(coll / ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def _version_files(coll: Path) -> list[tuple[int, Path]]:
    vdir = coll / "versions"
    try:
        names = os.listdir(vdir)
    except OSError:
        return []
    return sorted((int(m.group(1)), vdir / n) for n in names if (m := _VERSION_FILE.match(n)))


def _aliases(coll: Path) -> dict[str, str]:
    doc = _read_json(coll / "aliases.json")
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def _aliases_of(version: str, aliases: Mapping[str, str], newest: str | None) -> list[str]:
    out = [a for a, v in aliases.items() if v == version and a != "latest"]
    return [*out, "latest"] if version == newest else out


def commit(
    root: Path, doc: dict[str, Any], aliases: list[str], dedupe_on: str = "digest"
) -> tuple[StoredVersion, bool]:
    """Add `doc` (entity, project, name, files, digest, …) as the next version of its collection, or find the
    version with the same `dedupe_on` value ("digest": the same contents; "source": a link to the same version);
    then point `aliases` at it. Returns (the version, whether it is new)."""
    coll = collection_dir(root, doc["entity"], doc["project"], doc["name"])
    with _locked(coll):
        existing = _find_same(coll, doc, dedupe_on)
        created = existing is None
        if existing is None:
            (coll / "versions").mkdir(exist_ok=True)
            n = _next_number(coll)
            fd, tmp = tempfile.mkstemp(dir=coll / "versions", prefix=".new-")
            os.close(fd)
            try:
                while True:
                    doc = {**doc, "format": FORMAT, "version": f"v{n}"}
                    _write_json(Path(tmp), doc)
                    try:
                        if (coll / "versions" / f"v{n}.deleted").exists():
                            raise FileExistsError  # a number once given is never given again
                        os.link(tmp, coll / "versions" / f"v{n}.json")  # fails if v<n> exists: never two
                        break
                    except FileExistsError:  # a writer that does not take the lock (should not happen)
                        n += 1
            finally:
                os.unlink(tmp)
            existing = doc
            (coll / "index").mkdir(exist_ok=True)
            _write_text(coll / "index" / _index_key(doc, dedupe_on), doc["version"])
        table = _aliases(coll)
        moved = False
        for a in aliases:
            if a != "latest" and table.get(a) != existing["version"]:
                table.pop(a, None)  # re-inserted last: the order aliases were given
                table[a] = existing["version"]
                moved = True
        if moved:
            _write_json(coll / "aliases.json", table)
        numbers = _version_files(coll)
        newest = f"v{numbers[-1][0]}" if numbers else None
        path = coll / "versions" / f"{existing['version']}.json"
        return StoredVersion(existing, _aliases_of(existing["version"], table, newest), path, root), created


def _index_key(doc: Mapping[str, Any], dedupe_on: str) -> str:
    return hashlib.sha256(f"{dedupe_on}\0{doc.get(dedupe_on) or ''}".encode()).hexdigest()


def _same(other: Any, doc: Mapping[str, Any], dedupe_on: str) -> bool:
    return (
        isinstance(other, dict)
        and other.get(dedupe_on) == doc.get(dedupe_on)
        and bool(other.get("source")) == bool(doc.get("source"))
    )


def _find_same(coll: Path, doc: Mapping[str, Any], dedupe_on: str) -> dict[str, Any] | None:
    """The version with the same contents (or link source), through the collection's index: a collection of
    many versions (a checkpoint every N steps) is not read whole at every log. An index entry whose version is
    gone or differs is stale (deleted versions): a miss."""
    try:
        version = (coll / "index" / _index_key(doc, dedupe_on)).read_text().strip()
    except OSError:
        return None
    if not VERSION_RE.match(version):
        return None
    other = _read_json(coll / "versions" / f"{version}.json")
    return other if _same(other, doc, dedupe_on) else None


def _next_number(coll: Path) -> int:
    """One more than any version number given in the collection, deleted ones included."""
    try:
        names = os.listdir(coll / "versions")
    except OSError:
        return 0
    taken = [int(m.group(1)) for n in names if (m := re.match(r"^v(\d+)\.(?:json|deleted)$", n))]
    return max(taken) + 1 if taken else 0


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _collection_versions(root: Path, coll: Path) -> list[StoredVersion]:
    numbers = _version_files(coll)
    if not numbers:
        return []
    table = _aliases(coll)
    newest = f"v{numbers[-1][0]}"
    out = []
    for _, path in numbers:
        doc = _read_json(path)
        if isinstance(doc, dict) and doc.get("version"):
            out.append(StoredVersion(doc, _aliases_of(str(doc["version"]), table, newest), path, root))
    return out


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def versions(root: Path, entity: str | None = None, project: str | None = None) -> list[StoredVersion]:
    """Every version of the store (of one entity and project when given), oldest first."""
    out: list[StoredVersion] = []
    base = root / "projects"
    ents = [base / entity] if entity else _subdirs(base)
    for ent in ents:
        for proj in [ent / project] if project else _subdirs(ent):
            for coll in _subdirs(proj):
                out.extend(_collection_versions(root, coll))
    return sorted(out, key=lambda v: (float(v.doc.get("created_at") or 0), v.qualified))


def lookup(root: Path, qualified: str) -> StoredVersion | None:
    """The version `entity/project/name:vN` names, None when the store has none."""
    spec, _, version = qualified.partition(":")
    parts = spec.split("/")
    if len(parts) != 3 or not VERSION_RE.match(version):
        return None
    try:
        coll = collection_dir(root, *parts)
    except ValueError:
        return None
    doc = _read_json(coll / "versions" / f"{version}.json")
    if not isinstance(doc, dict):
        return None
    numbers = _version_files(coll)
    newest = f"v{numbers[-1][0]}" if numbers else None
    return StoredVersion(
        doc, _aliases_of(version, _aliases(coll), newest), coll / "versions" / f"{version}.json", root
    )


# What runs logged and used -------------------------------------------------------------------------------------
def append_line(run_dir: str, filename: str, doc: Mapping[str, Any]) -> None:
    with open(os.path.join(run_dir, filename), "a", encoding="utf-8") as f:
        f.write(json.dumps(dict(doc)) + "\n")


def read_lines(run_dir: str | None, filename: str) -> list[dict[str, Any]]:
    if not run_dir:
        return []
    try:
        with open(os.path.join(run_dir, filename), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(doc, dict):
            out.append(doc)
    return out


# Deleting --------------------------------------------------------------------------------------------------------
def delete_run_artifacts(
    data_dir: str | os.PathLike[str], entity: str, project: str, run_id: str, grace: float = OBJECT_GRACE
) -> list[str]:
    """Delete the artifact versions run `entity/project/run_id` created (for `run.delete(delete_artifacts=True)`),
    the links pointing at them, their aliases, and then the stored files no version refers to any more (those
    older than `grace` seconds: younger ones may belong to a version being logged right now). Versions the run
    only re-logged (identical contents another run logged first) or used stay. Returns the deleted versions
    (`entity/project/name:vN`). Call it before the run's directory is removed (its record of what it logged is
    not needed: each version names the run that created it)."""
    root = artifacts_root(data_dir)
    run_path = f"{entity}/{project}/{run_id}"
    return remove_versions(
        root,
        [v for v in versions(root, entity, project) if v.doc.get("run") == run_path and not v.source],
        grace,
    )


def delete_version(
    version: StoredVersion, delete_aliases: bool = False, grace: float = OBJECT_GRACE
) -> list[str]:
    """W&B's `Artifact.delete()`: a linked version is only unlinked; a version with aliases (other than
    "latest") is refused unless `delete_aliases`; the links pointing at it go with it. Returns what was deleted."""
    if not version.source:
        own = [a for a in version.aliases if a != "latest"]
        if own and not delete_aliases:
            raise Error(
                f"artifact {version.qualified} has aliases ({', '.join(own)}): pass delete_aliases=True to delete "
                "it with them."
            )
    return remove_versions(version.root, [version], grace)


def remove_versions(root: Path, chosen: list[StoredVersion], grace: float = OBJECT_GRACE) -> list[str]:
    """Delete `chosen`, the links pointing at them (in any project: registries) and their aliases, then the
    stored files no version refers to any more (older than `grace` seconds: younger ones may belong to a version
    being logged right now). Returns the deleted versions (`entity/project/name:vN`)."""
    gone = {v.qualified for v in chosen}
    sources = {v.qualified for v in chosen if not v.source}
    for v in versions(root) if sources else []:
        if v.source in sources:
            gone.add(v.qualified)
    by_coll: dict[Path, list[str]] = {}
    for q in gone:
        spec, _, ver = q.partition(":")
        by_coll.setdefault(collection_dir(root, *spec.split("/")), []).append(ver)
    for coll, vers in by_coll.items():
        with _locked(coll):
            for ver in vers:
                _write_text(coll / "versions" / f"{ver}.deleted", "")  # its number is not given again
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(coll / "versions" / f"{ver}.json")
            table = _aliases(coll)
            kept = {a: v for a, v in table.items() if v not in vers}
            if kept != table:
                _write_json(coll / "aliases.json", kept)
    if gone:
        collect_garbage(root, grace)
    return sorted(gone)


def collect_garbage(root: Path, grace: float = OBJECT_GRACE) -> int:
    """Remove stored files no version refers to and older than `grace` seconds; returns how many."""
    wanted = {
        str(f.get("sha256")) for v in versions(root) for f in v.doc.get("files") or [] if not f.get("ref")
    }
    base = root / "objects" / "sha256"
    now = time.time()
    removed = 0
    for tmp in (root / "objects" / "tmp").glob("*"):  # left by a process killed while it wrote an object
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime >= max(grace, 60.0):
                tmp.unlink()
    for sub in _subdirs(base):
        for obj in sub.iterdir():
            if sub.name + obj.name in wanted:
                continue
            with contextlib.suppress(OSError):
                if now - obj.stat().st_mtime >= grace:
                    obj.unlink()
                    removed += 1
    return removed
