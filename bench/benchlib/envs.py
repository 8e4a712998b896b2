"""Per-tool virtualenvs (bench/.venvs/, gitignored) and the environment that keeps every tool offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"

# Pinned to the versions of wandb-behaviour.md §21 so figures stay comparable. mlflow 3.18's wheel needs an
# mlflow-skinny 3.18 that PyPI does not serve; skinny + SQLAlchemy + Alembic is all the SQLite store needs.
VENV_REQUIREMENTS: dict[str, list[str]] = {
    # runhive: this checkout, installed as a user would (not editable: no import hook at every start), on top.
    "runhive": ["setuptools>=68", "wheel", "numpy", "psutil"],
    "wandb": ["wandb==0.31.0", "numpy", "psutil"],
    "trackio": ["trackio==0.43.0", "numpy", "psutil"],
    "mlflow": ["mlflow-skinny==3.17.2", "sqlalchemy", "alembic", "numpy", "psutil"],
    # bench/server.py: MLflow's tracking server on PostgreSQL (the full package: the server needs its web stack).
    "mlflow-server": ["mlflow==3.17.2", "psycopg[binary]", "psutil"],
}


@dataclass(frozen=True)
class Tool:
    name: str
    venv: Path
    family: str  # runhive | wandb | trackio | mlflow | mlflow-server

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


TOOLS: dict[str, Tool] = {
    "runhive": Tool("runhive", VENVS_DIR / "runhive", "runhive"),
    "wandb": Tool("wandb", VENVS_DIR / "wandb", "wandb"),
    "trackio": Tool("trackio", VENVS_DIR / "trackio", "trackio"),
    "mlflow-sync": Tool("mlflow-sync", VENVS_DIR / "mlflow", "mlflow"),
    "mlflow-async": Tool("mlflow-async", VENVS_DIR / "mlflow", "mlflow"),
}


def ensure_venv(tool: Tool, log: bool = True) -> None:
    """Create the tool's virtualenv on first use, or reinstall when its requirement list changed."""
    reqs = VENV_REQUIREMENTS[tool.family]
    stamp = tool.venv / ".bench-requirements.json"
    if tool.python.exists() and stamp.exists() and json.loads(stamp.read_text()) == reqs:
        if tool.family == "runhive":
            _install_checkout(tool, log)
        return
    if log:
        print(f"[bench] installing {tool.venv.name} venv: {' '.join(reqs)}", flush=True)
    if not tool.python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(tool.venv)], check=True)
    pip = [str(tool.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *reqs], check=True)
    if tool.family == "runhive":
        _install_checkout(tool, log)
    stamp.write_text(json.dumps(reqs))


def _install_checkout(tool: Tool, log: bool) -> None:
    """The checkout as it is now, with its dependencies, reinstalled at every bench run."""
    if log:
        print(f"[bench] installing this checkout into {tool.venv.name} venv", flush=True)
    pip = [str(tool.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "--no-build-isolation", "--force-reinstall", "--no-deps", str(REPO_DIR)], check=True
    )
    subprocess.run([*pip, "--no-build-isolation", str(REPO_DIR)], check=True)  # dependencies, once


# Variables a tool could pick up from the caller's environment and that would change what is measured.
_SCRUB_PREFIXES = ("WANDB_", "RUNHIVE_", "MLFLOW_", "TRACKIO_", "HF_", "GRADIO_")


def tool_env(tool: Tool, work_dir: Path, service_dir: str) -> dict[str, str]:
    """Environment for one worker: local storage under `work_dir`, no telemetry, nothing on the network.

    WANDB_* variables are set for wandb only: runhive reads them as fallbacks for its own settings.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    data = work_dir / "data"
    env.update(
        {
            "BENCH_DATA_DIR": str(data),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HOME": str(work_dir / "hf"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "XDG_CACHE_HOME": str(work_dir / "cache"),
            "XDG_CONFIG_HOME": str(work_dir / "config"),
        }
    )
    if tool.family == "runhive":
        env["RUNHIVE_SERVICE_DIR"] = service_dir
        env["RUNHIVE_DATA_DIR"] = str(data / "runhive")
    elif tool.family == "wandb":
        env.update(
            {
                "WANDB_MODE": "offline",
                "WANDB_SILENT": "true",
                "WANDB_DISABLE_GIT": "true",
                "WANDB_DISABLE_CODE": "true",
                "WANDB_DIR": str(data),
                "WANDB_CONFIG_DIR": str(work_dir / "config" / "wandb"),
                "WANDB_CACHE_DIR": str(work_dir / "cache" / "wandb"),
                "WANDB_DATA_DIR": str(work_dir / "cache" / "wandb-data"),
                "WANDB_ARTIFACT_DIR": str(work_dir / "cache" / "wandb-artifacts"),
            }
        )
    elif tool.family == "trackio":
        env["TRACKIO_DIR"] = str(data / "trackio")
    elif tool.family == "mlflow":
        env.update(
            {
                "MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow.db'}",
                "MLFLOW_ENABLE_ASYNC_LOGGING": "true" if tool.name == "mlflow-async" else "false",
                "MLFLOW_DISABLE_TELEMETRY": "true",
            }
        )
    return env
