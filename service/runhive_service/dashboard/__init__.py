"""`runhive ui`: the web dashboard over the local store (needs the `ui` extra)."""

from ._app import UiConfig, allowed_hosts, create_app, serve

__all__ = ["UiConfig", "allowed_hosts", "create_app", "serve"]
