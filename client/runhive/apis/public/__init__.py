"""The public read API (W&B's `wandb.apis.public`): `Api` and the objects it returns. They read through a backend
(`runhive.apis.backends`), so the same objects come back whichever store answers."""

from ._api import Api
from ._artifacts import ArtifactCollection, ArtifactType
from ._files import File, Files
from ._run import ApiRun
from ._runs import Project, Runs
from ._sweeps import Sweep

Run = ApiRun

__all__ = ["Api", "ArtifactCollection", "ArtifactType", "File", "Files", "Project", "Run", "Runs", "Sweep"]
