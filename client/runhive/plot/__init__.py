"""Chart helpers (W&B's `wandb.plot`): each returns a table and the chart drawn from it, logged like any value."""

__all__: list[str] = []
