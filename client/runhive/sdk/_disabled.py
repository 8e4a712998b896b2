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

    # What else W&B's Run has, so code written for W&B runs unchanged in disabled mode: each a no-op.
    @property
    def url(self) -> str | None:
        return None

    @property
    def project_url(self) -> str | None:
        return None

    @property
    def sweep_url(self) -> str | None:
        return None

    @property
    def sweep_id(self) -> str | None:
        return None

    @property
    def settings(self) -> Any:
        from ._settings import Settings

        return Settings(mode="disabled", project=self.project, run_id=self.id)

    def get_url(self) -> str | None:
        return None

    def get_project_url(self) -> str | None:
        return None

    def get_sweep_url(self) -> str | None:
        return None

    @property
    def _attach_id(self) -> str:
        return self.id

    def _label(self, *args: Any, **kwargs: Any) -> None:
        return None

    def watch(self, models: Any = None, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def unwatch(self, models: Any = None) -> None:
        return None

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        return None

    def log_code(self, root: Any = ".", name: str | None = None, *args: Any, **kwargs: Any) -> None:
        return None

    def mark_preempting(self) -> None:
        return None

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, *args: Any, **kwargs: Any) -> Any:
        """The artifact given, or an empty one named after the string (nothing is read in disabled mode)."""
        if not isinstance(artifact_or_name, str):
            return artifact_or_name
        from .artifacts._artifact import Artifact

        name = artifact_or_name.rsplit("/", 1)[-1].split(":", 1)[0]
        return Artifact(name=name, type=type or "unspecified")

    def log_model(
        self, path: Any, name: str | None = None, aliases: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        return None

    def use_model(self, name: str) -> str:
        return ""

    def link_model(self, *args: Any, **kwargs: Any) -> None:
        return None

    def link_artifact(self, *args: Any, **kwargs: Any) -> None:
        return None

    def upsert_artifact(self, artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        return artifact_or_path

    def finish_artifact(self, artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        return artifact_or_path

    def restore(self, *args: Any, **kwargs: Any) -> None:
        return None

    def status(self) -> None:
        return None

    def display(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def to_html(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()
