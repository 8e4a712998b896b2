"""`mode="disabled"`: no daemon, no files; every call is a cheap no-op returning plausible objects."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from runhive.protocol.ids import generate_id

from ._config import Config
from ._summary import Summary


class DisabledRun:
    def __init__(self, project: str, name: str | None, config: Mapping[str, Any], run_id: str | None) -> None:
        self.id = run_id or generate_id()
        self.name = name or "dummy-" + self.id
        self.project = project
        self.entity = ""
        self.notes = ""
        self.tags: tuple[str, ...] = ()
        self.group = ""
        self.job_type = ""
        self.dir = ""
        self.resumed = False
        self.offline = False
        self.disabled = True
        self.step = 0
        self.start_time = time.time()
        self.config = Config()
        self.config._items.update(config)
        self.summary = Summary()

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        if not isinstance(data, Mapping):
            raise TypeError("runhive.log must be passed a dictionary")

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        from . import _globals

        if getattr(_globals._module(), "run", None) is self:
            _globals.unbind()

    def save(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: Any = None,
        tags: Any = None,
    ) -> Any:
        return artifact_or_path

    def define_metric(self, name: str, **kwargs: Any) -> None:
        return None

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()
