"""Errors a generator raises, independent of the SDK underneath.

Messages name the model and server, never a key: they are safe to print and log.
"""

from __future__ import annotations


class GeneratorError(RuntimeError):
    """A generator could not produce text; the message says why and what to do."""


class GeneratorAuthError(GeneratorError):
    """The server rejected the credentials (HTTP 401/403)."""


class ModelNotFoundError(GeneratorError):
    """The server does not serve the requested model (HTTP 404 / ``model_not_found``)."""

    def __init__(self, message: str, *, model: str, available: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.model = model
        self.available = available


class GeneratorUnavailableError(GeneratorError):
    """Rate-limited, overloaded or unreachable after every retry (HTTP 429/5xx/529, connection)."""


class AdapterMismatchError(GeneratorError):
    """A LoRA adapter was trained on another base model than the one loaded."""
