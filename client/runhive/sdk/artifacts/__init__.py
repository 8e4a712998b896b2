"""Artifacts: versioned sets of files a run logs or uses (W&B's `wandb.sdk.artifacts`)."""

from . import _models  # noqa: F401  (registers `Artifact.link`; it reads through the read API)
from ._artifact import Artifact, ArtifactFinalizedError, ArtifactNotSupportedError

__all__ = ["Artifact", "ArtifactFinalizedError", "ArtifactNotSupportedError"]
