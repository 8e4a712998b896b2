"""Running code written for W&B unchanged: `RUNHIVE_AS_WANDB=1` answers `import wandb` with runhive
(`_wandb_alias`), for libraries that import wandb themselves (Ray Tune, Hugging Face, Lightning, Accelerate)."""

from ._wandb_alias import install

__all__ = ["install"]
