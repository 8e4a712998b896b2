"""Config given as a file path: JSON always; YAML when PyYAML is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runhive.errors import UsageError


def load_config_file(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text() if p.is_file() else None
    except (OSError, ValueError) as exc:  # a name too long for the file system, unreadable, not UTF-8
        raise UsageError(f"config={path[:200]!r} cannot be read as a file: {exc}") from None
    if text is None:
        raise UsageError(
            f"config={path[:200]!r} is not a file; pass a dict, an argparse.Namespace or a YAML/JSON path."
        )
    if p.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        try:
            import yaml
        except ImportError:
            raise UsageError(
                f"config={path!r} is YAML: install PyYAML (pip install pyyaml) to read it."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"config file {path!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path!r} must hold a mapping at top level, got {type(data).__name__}.")
    # W&B config-defaults files wrap values as {"key": {"value": v, "desc": ...}}.
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in data.items()}
