"""`runhive.restore` (W&B's `wandb.restore`): a file a run saved, fetched through `Api()`."""

from __future__ import annotations

import os
from typing import Any

from runhive.apis.backends._local_files import safe_relative

from ._api import Api


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """W&B's `wandb.restore`: the file `name` a run saved, copied to `root` (the active run's directory, else the
    current directory) and returned open for reading; a copy already there is returned as it is unless
    `replace`. None when the run has no such file."""
    from runhive.sdk import _globals

    run: Any = _globals.most_recent_active()
    if run_path is None:
        if run is None:
            raise ValueError("run_path required when calling runhive.restore before runhive.init")
        run_path = f"{run.entity}/{run.project}/{run.id}"
    if root is None and run is not None:
        root = os.path.join(run.dir, "files")
    root = root if root is not None else os.getcwd()
    path = os.path.join(root, *safe_relative(name, "restore"))
    if os.path.exists(path) and not replace:
        return open(path)
    with Api() as api:
        found = api.run(run_path).files([name])
        if not found:
            return None
        return found[0].download(root=root, replace=True)
