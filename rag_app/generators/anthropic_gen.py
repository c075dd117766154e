"""Generator over Anthropic's Messages API, on the ``anthropic`` SDK.

System messages go to ``system=``; streaming uses ``messages.stream``. The key is read from the
environment variable named by ``api_key_env`` on the first request and never appears in
``repr``, logs or error messages. Retries (429, 5xx, 529 overloaded, connection errors) are ours.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rag_app.generators.errors import (
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailableError,
    ModelNotFoundError,
    model_not_found,
)
from rag_app.generators.messages import split_system
from rag_app.generators.retry import RetryPolicy, call_with_retries, retry_after_seconds
from rag_app.types import GenerationResult, Message, StreamEvent

log = logging.getLogger(__name__)

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
PIP_HINT = "pip install 'ragqa[anthropic]'"
# Anthropic stop_reason -> the OpenAI-style finish_reason GenerationResult carries.
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "refusal": "content_filter", "tool_use": "tool_calls"}


def _import_anthropic() -> Any:
    try:
        import anthropic
    except ImportError as exc:
        raise ImportError(f"the Anthropic generator needs the anthropic SDK: {PIP_HINT}") from exc
    return anthropic


class AnthropicGenerator:
    """``Generator`` over ``/v1/messages``. ``http_client`` (an ``httpx2.Client``) is for tests
    and proxies; ``sleep`` is the clock used between retries."""

    def __init__(
        self,
        model: str,
        api_key_env: str = "ANTHROPIC_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        *,
        base_url: str | None = None,
        name: str | None = None,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise ValueError("model is empty: give a model name, e.g. 'claude-sonnet-4-5'")
        if max_retries < 0:
            raise ValueError(f"max_retries is {max_retries}; it must be >= 0")
        self.model = model
        self.api_key_env = api_key_env
        self.base_url = (base_url or ANTHROPIC_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.policy = RetryPolicy(max_retries=max_retries)
        self.name = name or f"anthropic:{model}"
        self._http_client = http_client
        self._sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"AnthropicGenerator(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r})")

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                anthropic = _import_anthropic()
                key = os.environ.get(self.api_key_env, "").strip()
                if not key:
                    raise GeneratorAuthError(
                        f"{self.api_key_env} is not set: export {self.api_key_env}=<your key> to use "
                        f"{self.base_url}, or choose a local generator (e.g. --generator smollm2)")
                kwargs: dict[str, Any] = {"api_key": key, "base_url": self.base_url,
                                          "timeout": self.timeout, "max_retries": 0}
                if self._http_client is not None:
                    kwargs["http_client"] = self._http_client
                self._client = anthropic.Anthropic(**kwargs)
            return self._client

    def _params(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> dict[str, Any]:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens is {max_tokens}; it must be > 0")
        system, turns = split_system(messages)
        params: dict[str, Any] = {"model": self.model, "messages": turns, "max_tokens": max_tokens}
        if system:
            params["system"] = system
        if self._takes_temperature():
            params["temperature"] = temperature
        return params

    def _takes_temperature(self) -> bool:
        """anthropic SDK 2.x dropped ``temperature`` from ``messages.create`` (current models take
        no sampling settings); older SDKs still accept it."""
        create = self._get_client().messages.create
        return "temperature" in inspect.signature(create).parameters

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 512,
                 temperature: float = 0.0) -> GenerationResult:
        params = self._params(messages, max_tokens, temperature)
        client = self._get_client()
        msg = self._call(lambda: client.messages.create(**params))
        text = "".join(b.text for b in msg.content if getattr(b, "type", "") == "text")
        return GenerationResult(
            text=text, model=msg.model or self.model,
            prompt_tokens=msg.usage.input_tokens, completion_tokens=msg.usage.output_tokens,
            finish_reason=FINISH_REASONS.get(msg.stop_reason or "end_turn", msg.stop_reason or "stop"))

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[StreamEvent]:
        params = self._params(messages, max_tokens, temperature)
        client = self._get_client()
        anthropic = _import_anthropic()
        manager = client.messages.stream(**params)
        # The request is sent on __enter__: HTTP errors before the first event are retried there.
        stream = self._call(manager.__enter__)
        parts: list[str] = []
        try:
            for text in stream.text_stream:
                if text:
                    parts.append(text)
                    yield StreamEvent(delta=text)
            final = stream.get_final_message()
        except anthropic.APIError as exc:  # e.g. an overloaded_error event in mid-stream
            raise GeneratorUnavailableError(
                f"the stream from {self.base_url} broke after {len(parts)} chunks: "
                f"{_describe(exc)}; try again later") from exc
        finally:
            manager.__exit__(None, None, None)
        yield StreamEvent(done=True, result=GenerationResult(
            text="".join(parts), model=final.model or self.model,
            prompt_tokens=final.usage.input_tokens, completion_tokens=final.usage.output_tokens,
            finish_reason=FINISH_REASONS.get(final.stop_reason or "end_turn", final.stop_reason or "stop")))

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run one SDK request with our retries; map SDK errors to ``GeneratorError``s."""
        anthropic = _import_anthropic()
        try:
            return call_with_retries(
                fn, is_retryable=_is_retryable, policy=self.policy, server_delay=_server_delay,
                sleep=self._sleep, label=f"{self.name} request")
        except anthropic.AuthenticationError:
            raise GeneratorAuthError(
                f"authentication failed for {self.base_url}: set {self.api_key_env} to a valid key "
                f"(HTTP 401)") from None
        except anthropic.PermissionDeniedError:
            raise GeneratorAuthError(
                f"permission denied by {self.base_url} for model {self.model!r} (HTTP 403): check that "
                f"the key in {self.api_key_env} may use this model") from None
        except anthropic.NotFoundError as exc:
            raise self._model_not_found(exc) from exc
        except anthropic.APIStatusError as exc:
            if _is_retryable(exc):
                what = "overloaded" if exc.status_code == 529 else "still failing"
                raise GeneratorUnavailableError(
                    f"{self.base_url} {what} after {self.policy.max_retries} retries: {_describe(exc)}; "
                    f"try again later") from exc
            raise GeneratorError(f"{self.base_url} rejected the request: {_describe(exc)}") from exc
        except anthropic.APIConnectionError as exc:
            raise GeneratorUnavailableError(
                f"cannot reach {self.base_url} after {self.policy.max_retries} retries "
                f"({type(exc).__name__}): check the network") from exc

    def _model_not_found(self, exc: Any) -> ModelNotFoundError:
        return model_not_found(self.model, self.base_url, exc.status_code, self._list_models(),
                               "check the model name (see https://docs.anthropic.com/en/docs/about-claude/models)")

    def _list_models(self) -> list[str]:
        try:
            return [m.id for m in self._get_client().models.list(limit=100)]
        except Exception as exc:  # listing is a courtesy
            log.debug("listing models at %s failed: %s", self.base_url, type(exc).__name__)
            return []


def _describe(exc: Any) -> str:
    status = getattr(exc, "status_code", None)
    kind = getattr(exc, "type", None)
    message = getattr(exc, "api_message", None) or getattr(exc, "message", "") or str(exc)
    label = f"HTTP {status}" + (f" {kind}" if kind else "") if status is not None else (kind or "error")
    return f"{label}: {message}"


def _is_retryable(exc: BaseException) -> bool:
    anthropic = _import_anthropic()
    if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500  # 529 = overloaded
    return False


def _server_delay(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after_seconds(response.headers) if response is not None else None
