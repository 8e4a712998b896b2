"""The main demo: `make run`. One run of 1,000 steps into the embedded local store, then read it back."""

import math
import random

import runhive as wandb

run = wandb.init(project="demo", config={"lr": 0.1, "batch_size": 32})
for i in range(1000):
    run.log({"loss": 1 / (i + 1) + random.random() * 0.01, "acc": 1 - math.exp(-i / 200)})
run.finish()

api_run = wandb.Api().runs("demo")[0]
rows = api_run.history()
loss = api_run.summary["loss"]
print(f"run {api_run.id} ({api_run.name}) is {api_run.state}: {len(rows)} rows, summary loss={loss:.4f}")
print("try: runhive runs demo   and   runhive service status")
