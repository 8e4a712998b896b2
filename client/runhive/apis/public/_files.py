"""A run's saved files as the read API shows them (W&B's public `File` and `Files`)."""

from __future__ import annotations

import fnmatch
import os
from typing import IO, Any

from runhive.apis.backends._base import Backend, FileRecord, RunRecord
from runhive.apis.backends._local_files import safe_relative


class File:
    """One file of a run: `name` (its path inside the run's files), `size`, `updated_at`; `download()`."""

    def __init__(self, backend: Backend, run: RunRecord, record: FileRecord, api_run: Any = None):
        self._backend, self._run, self._record = backend, run, record
        self.run = api_run
        self.name, self.size, self.updated_at = record.name, record.size, record.updated_at

    @property
    def path_uri(self) -> str:
        return str(self._record.handle or "")

    @property
    def md5(self) -> str:
        return "1" if self.size or self._record.handle else "0"

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.size} bytes)>"

    def download(
        self, root: str = ".", replace: bool = False, exist_ok: bool = False, api: Any = None
    ) -> IO[str]:
        """Copy the file to `root/name` and return it open for reading, as W&B does. ValueError if the file is
        there already, unless `replace` (copy over it) or `exist_ok` (leave it)."""
        path = os.path.join(root, *safe_relative(self.name, "File.download"))
        if os.path.exists(path) and not replace:
            if exist_ok:
                return open(path)
            raise ValueError(
                "File already exists, pass replace=True to overwrite or exist_ok=True to leave it as is and don't "
                "error."
            )
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.{os.getpid()}.part"
        try:
            self._backend.download_file(self._run, self._record, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return open(path)

    def delete(self) -> None:
        from runhive.apis.backends._base import NotSupportedError

        raise NotSupportedError(f"File.delete(): runhive does not delete a run's files ({self.name}) yet")


class Files(list[File]):
    """The files `run.files()` matched: a list (W&B's paginated `Files`), with `per_page` kept for W&B's code."""

    def __init__(self, files: list[File], per_page: int = 50) -> None:
        super().__init__(files)
        self.per_page = per_page

    @property
    def length(self) -> int:
        return len(self)


def select(records: list[FileRecord], names: list[str] | None, pattern: str | None) -> list[FileRecord]:
    """W&B's rule: exact `names` when given (the pattern is then ignored), else a `pattern` (SQL `%` or glob)."""
    if names:
        wanted = [n.replace("\\", "/") for n in names]
        by_name = {r.name: r for r in records}
        return [by_name[n] for n in wanted if n in by_name]
    if pattern:
        glob = pattern.replace("%", "*")
        return [r for r in records if fnmatch.fnmatchcase(r.name, glob)]
    return list(records)
