"""`Html` (W&B's `wandb.Html`): literal HTML, a `.html` file or a readable object, stored as an `.html` file."""

from __future__ import annotations

import os
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile

_STYLE = '<base target="_blank"><link rel="stylesheet" type="text/css" href="https://app.wandb.ai/normalize.css" />'


class Html(BatchableMedia):
    """HTML logged as a file (W&B's `wandb.Html`). `data` is the path of a `.html` file, literal HTML or an object
    with `read()`; `inject=True` adds W&B's `<base>` and stylesheet to the head, as W&B does."""

    _log_type = "html-file"
    _file: _StoredFile

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        self._caption: str | None = None
        is_path = (
            not data_is_not_path
            and isinstance(data, (str, os.PathLike))
            and os.path.isfile(data)
            and os.path.splitext(os.fspath(data))[1] == ".html"
        )
        if is_path:
            with open(os.fspath(data), encoding="utf-8") as f:
                self.html = f.read()
        elif isinstance(data, str):
            self.html = data
        elif hasattr(data, "read"):
            if hasattr(data, "seek"):
                data.seek(0)
            text = data.read()
            self.html = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        else:
            raise ValueError(
                f"runhive.Html: data must be a string (HTML or the path of a .html file) or an io object; got "
                f"{_describe(data)}."
            )
        if inject:
            self.inject_head()
        if is_path and not inject:
            self._file = _StoredFile.from_path(os.fspath(data), "html", "html")
        else:
            self._file = _StoredFile.from_bytes(self.html.encode("utf-8"), "html", "html")

    def inject_head(self) -> None:
        """Add W&B's `<base target="_blank">` and stylesheet link at the start of the head."""
        if "<head>" in self.html:
            before, after = self.html.split("<head>", 1)
            parts = [before + "<head>", after]
        elif "<html>" in self.html:
            before, after = self.html.split("<html>", 1)
            parts = [before + "<html><head>", "</head>" + after]
        else:
            parts = ["", self.html]
        parts.insert(1, _STYLE)
        self.html = "".join(parts).strip()

    @property
    def path(self) -> str:
        return self._file.path

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": self._log_type, **self._file.json()}

    def __repr__(self) -> str:
        return f"<runhive Html {self._file.path}>"
