"""`runhive ui`: the web dashboard over the local store (needs the `ui` extra)."""

from ._app import UiConfig, create_app, serve

__all__ = ["UiConfig", "create_app", "serve"]
