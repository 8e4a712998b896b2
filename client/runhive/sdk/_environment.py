"""What init() records about where a run came from: git state (unless disable_git), program, and (with
save_code) the code: the program's file, and the *.py files under code_dir when it is set.

Git is asked in a background thread so `init()` never waits on it; the result reaches the daemon as a run
update and `diff.patch` lands in the run's files/ directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._run import Run


def _git(args: list[str], cwd: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


_git_cache: dict[str, tuple[str | None, str | None, str | None]] = {}
_git_lock = threading.Lock()


def _git_state(cwd: str) -> tuple[str | None, str | None, str | None]:
    """(commit, remote, diff) of the repository at `cwd`, asked once per process: a process that starts 20 runs
    spawns git 3 times, not 60."""
    with _git_lock:
        if cwd not in _git_cache:
            commit = _git(["rev-parse", "HEAD"], cwd)
            remote = _git(["remote", "get-url", "origin"], cwd) if commit is not None else None
            diff = _git(["diff", "HEAD"], cwd) if commit is not None else None
            _git_cache[cwd] = (commit, remote, diff)
        return _git_cache[cwd]


def git_info(cwd: str, files_dir: Path) -> dict[str, Any]:
    commit, remote, diff = _git_state(cwd)
    if commit is None:
        return {}
    info: dict[str, Any] = {"commit": commit.strip()}
    if remote:
        info["remote"] = remote.strip()
    if diff:
        try:
            (files_dir / "diff.patch").write_text(diff)
            info["diff"] = "diff.patch"
        except OSError:
            pass
    return info


def save_main_script(files_dir: Path, program: str | None = None) -> str | None:
    """Copy the run's program (the `program` setting when it names a file, else `__main__`'s file) to code/."""
    path = program if program and os.path.isfile(program) else None
    if path is None:
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
    if not path or not os.path.isfile(path):
        return None
    dest = files_dir / "code" / os.path.basename(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    except OSError:
        return None
    return str(dest.relative_to(files_dir))


# Not walked under code_dir: run directories (runhive's and W&B's) and hidden directories (.git, .venv, ...).
_SKIP_DIRS = {"runhive", "wandb"}


def save_code_dir(code_dir: str, files_dir: Path) -> int:
    """W&B's `code_dir`: copy every *.py file under it to code/, keeping relative paths; returns how many."""
    root = os.path.abspath(code_dir)
    dest_root = files_dir / "code"
    copied = 0
    for dirpath, dirnames, filenames in os.walk(root):
        top = os.path.samefile(dirpath, root)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not (top and d in _SKIP_DIRS)]
        for name in filenames:
            if not name.endswith(".py"):
                continue
            src = os.path.join(dirpath, name)
            dest = dest_root / os.path.relpath(src, root)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
                copied += 1
            except OSError:
                continue
    return copied


def capture_in_background(
    run: Run,
    save_code: bool,
    disable_git: bool = False,
    code_dir: str | None = None,
    program: str | None = None,
) -> threading.Thread:
    """Git state (unless `disable_git`) and, with `save_code`, the program and the *.py files under `code_dir`."""

    def work() -> None:
        files = Path(run.dir) / "files"
        meta = json.loads(run._info.metadata_json or b"{}")
        git = {} if disable_git else git_info(meta.get("cwd") or os.getcwd(), files)
        if git:
            meta["git"] = git
        if save_code:
            code = save_main_script(files, program)
            if code:
                meta["codePath"] = code
            if code_dir and os.path.isdir(code_dir):
                meta["codeDir"] = os.path.abspath(code_dir)
                save_code_dir(code_dir, files)
        if git or save_code:
            run._set_metadata(meta)

    t = threading.Thread(target=work, name="runhive-environment", daemon=True)
    t.start()
    return t
