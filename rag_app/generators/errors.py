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


MAX_LISTED_MODELS = 20


def model_not_found(model: str, base_url: str, status: int | None, available: list[str], hint: str) -> ModelNotFoundError:
    """The error for an unknown model, listing what the server does serve (or ``hint``)."""
    msg = f"model {model!r} not found at {base_url} (HTTP {status})"
    if available:
        shown = ", ".join(available[:MAX_LISTED_MODELS])
        more = f" (+{len(available) - MAX_LISTED_MODELS} more)" if len(available) > MAX_LISTED_MODELS else ""
        msg += f"; available models: {shown}{more}"
    else:
        msg += f"; {hint}"
    return ModelNotFoundError(msg, model=model, available=tuple(available))


class GeneratorUnavailableError(GeneratorError):
    """Rate-limited, overloaded or unreachable after every retry (HTTP 429/5xx/529, connection)."""


class AdapterMismatchError(GeneratorError):
    """A LoRA adapter was trained on another base model than the one loaded."""
