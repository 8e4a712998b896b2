"""Only what pyproject.toml cannot say: `runhive-wandb.pth` goes to the top of site-packages, beside the packages,
so `RUNHIVE_AS_WANDB=1` can answer `import wandb` in processes runhive does not start (see runhive.integration._wandb_alias)."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "runhive-wandb.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(os.path.join("client", PTH), os.path.join(self.build_lib, PTH), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithPth})
