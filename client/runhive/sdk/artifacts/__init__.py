"""Artifacts: versioned sets of files a run logs or uses (W&B's `wandb.sdk.artifacts`)."""

from ._artifact import Artifact, ArtifactFinalizedError, ArtifactNotSupportedError

__all__ = ["Artifact", "ArtifactFinalizedError", "ArtifactNotSupportedError"]
