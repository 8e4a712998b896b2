"""The `runhive` command (`_main`), with its sweep and sync commands in modules of their own."""

from ._main import main

__all__ = ["main"]
