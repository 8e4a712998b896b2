"""W&B's `wandb.tensorboard`: `patch(root_logdir=...)` logs what TensorBoard writers write into the current run;
`init(sync_tensorboard=True)` calls it. See `runhive.integration._tensorboard`."""

from runhive.integration._tensorboard import patch, summary_to_dict, unpatch

__all__ = ["patch", "summary_to_dict", "unpatch"]
