"""Reading runs back (W&B's `wandb.apis`): `runhive.apis.public.Api` and its objects."""

__all__: list[str] = []
