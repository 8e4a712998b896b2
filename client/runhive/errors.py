"""One exception tree for the whole client: every error runhive raises on purpose derives from `Error`."""

from __future__ import annotations


class Error(Exception):
    """Base class of every runhive error."""


class UsageError(Error):
    """The caller passed something runhive cannot use; the message says which argument and how to fix it."""


class ConfigError(Error):
    """A config key was changed without `allow_val_change=True`."""


class CommError(Error):
    """runhive could not talk to its daemon (`runhive-service`)."""


class ProtocolMismatchError(CommError):
    """The running daemon speaks another protocol version than this client."""


class InsecureSocketError(CommError):
    """The daemon's socket directory is not private to the current user."""
