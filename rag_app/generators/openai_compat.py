"""Generator over the OpenAI Chat Completions API and servers that speak it (llama.cpp, vLLM,
Ollama, LM Studio...), on the ``openai`` SDK.

The key is read from the environment variable named by ``api_key_env`` when the first request is
made; it never appears in ``repr``, logs or error messages. Retries (429, 5xx, connection errors)
are ours, not the SDK's, so that the policy is the same for every backend and testable.
"""

from __future__ import annotations

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
from rag_app.generators.messages import to_chat_dicts
from rag_app.generators.retry import RetryPolicy, call_with_retries, retry_after_seconds
from rag_app.types import GenerationResult, Message, StreamEvent

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local OpenAI-compatible servers usually need no key, but the SDK insists on one.
PLACEHOLDER_KEY = "sk-no-key-required"
PIP_HINT = "pip install 'ragqa[openai]'"


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise ImportError(f"the OpenAI generator needs the openai SDK: {PIP_HINT}") from exc
    return openai


class OpenAIGenerator:
    """``Generator`` over ``/v1/chat/completions``. ``base_url=None`` means api.openai.com.

    ``http_client`` (an ``httpx2.Client``, as the SDK uses) is for tests and proxies;
    ``sleep`` is the clock used between retries.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        *,
        name: str | None = None,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise ValueError("model is empty: give a model name, e.g. 'gpt-4o-mini'")
        if max_retries < 0:
            raise ValueError(f"max_retries is {max_retries}; it must be >= 0")
        self.model = model
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.is_official = base_url is None
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.policy = RetryPolicy(max_retries=max_retries)
        self.name = name or (f"openai:{model}" if self.is_official else f"openai-compatible:{model}@{self.base_url}")
        self._http_client = http_client
        self._sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()
        self._stream_usage: bool | None = None  # None: not yet known whether the server takes stream_options

    def __repr__(self) -> str:
        return (f"OpenAIGenerator(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r})")

    # -- client ---------------------------------------------------------------------------------

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                openai = _import_openai()
                key = os.environ.get(self.api_key_env, "").strip()
                if not key:
                    if self.is_official:
                        raise GeneratorAuthError(
                            f"{self.api_key_env} is not set: export {self.api_key_env}=<your key> to use "
                            f"{self.base_url}, or choose a local generator (e.g. --generator smollm2)")
                    key = PLACEHOLDER_KEY
                kwargs: dict[str, Any] = {"api_key": key, "base_url": self.base_url,
                                          "timeout": self.timeout, "max_retries": 0}
                if self._http_client is not None:
                    kwargs["http_client"] = self._http_client
                self._client = openai.OpenAI(**kwargs)
            return self._client

    # -- generation -----------------------------------------------------------------------------

    def _params(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> dict[str, Any]:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens is {max_tokens}; it must be > 0")
        params: dict[str, Any] = {"model": self.model, "messages": to_chat_dicts(messages),
                                  "temperature": temperature}
        # api.openai.com's newer models refuse max_tokens; compatible servers mostly know only it.
        params["max_completion_tokens" if self.is_official else "max_tokens"] = max_tokens
        return params

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 512,
                 temperature: float = 0.0) -> GenerationResult:
        params = self._params(messages, max_tokens, temperature)
        client = self._get_client()
        resp = self._call(lambda: client.chat.completions.create(**params))
        if not resp.choices:
            raise GeneratorError(f"{self.base_url} returned no choices for model {self.model!r}")
        choice = resp.choices[0]
        usage = resp.usage
        return GenerationResult(
            text=choice.message.content or "",
            model=resp.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[StreamEvent]:
        params = self._params(messages, max_tokens, temperature)
        client = self._get_client()
        chunks = self._open_stream(client, params)
        parts: list[str] = []
        n_chunks = 0
        prompt_tokens = completion_tokens = 0
        finish = "stop"
        model = self.model
        openai = _import_openai()
        try:
            for chunk in chunks:
                model = chunk.model or model
                if chunk.usage is not None:  # the extra last chunk of include_usage
                    prompt_tokens = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        n_chunks += 1
                        parts.append(delta)
                        yield StreamEvent(delta=delta)
        except openai.APIError as exc:
            raise GeneratorUnavailableError(
                f"the stream from {self.base_url} broke after {len(parts)} chunks: {self._describe(exc)}"
            ) from exc
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if completion_tokens == 0:
            completion_tokens = n_chunks  # no usage from the server: one chunk ≈ one token
        yield StreamEvent(done=True, result=GenerationResult(
            text="".join(parts), model=model, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, finish_reason=finish))

    def _open_stream(self, client: Any, params: dict[str, Any]) -> Any:
        openai = _import_openai()
        if self._stream_usage is not False:
            try:
                chunks = self._call(lambda: client.chat.completions.create(
                    **params, stream=True, stream_options={"include_usage": True}))
            except GeneratorError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, openai.BadRequestError) and "stream_options" in str(cause)):
                    raise
                log.info("%s does not take stream_options; counting streamed chunks instead", self.base_url)
                self._stream_usage = False
            else:
                self._stream_usage = True
                return chunks
        return self._call(lambda: client.chat.completions.create(**params, stream=True))

    # -- errors ---------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run one SDK request with our retries; map SDK errors to ``GeneratorError``s."""
        openai = _import_openai()
        try:
            return call_with_retries(
                fn, is_retryable=_is_retryable, policy=self.policy, server_delay=_server_delay,
                sleep=self._sleep, label=f"{self.name} request")
        except openai.AuthenticationError:
            raise GeneratorAuthError(
                f"authentication failed for {self.base_url}: set {self.api_key_env} to a valid key "
                f"(HTTP 401)") from None
        except openai.PermissionDeniedError:
            raise GeneratorAuthError(
                f"permission denied by {self.base_url} for model {self.model!r} (HTTP 403): check that "
                f"the key in {self.api_key_env} may use this model") from None
        except (openai.NotFoundError, openai.BadRequestError) as exc:
            if isinstance(exc, openai.NotFoundError) or exc.code == "model_not_found":
                raise self._model_not_found(exc) from exc
            raise GeneratorError(f"{self.base_url} rejected the request: {self._describe(exc)}") from exc
        except openai.APIStatusError as exc:
            if _is_retryable(exc):
                raise GeneratorUnavailableError(
                    f"{self.base_url} still failing after {self.policy.max_retries} retries: "
                    f"{self._describe(exc)}; try again later") from exc
            raise GeneratorError(f"{self.base_url} rejected the request: {self._describe(exc)}") from exc
        except openai.APIConnectionError as exc:
            raise GeneratorUnavailableError(
                f"cannot reach {self.base_url} after {self.policy.max_retries} retries "
                f"({type(exc).__name__}): check the URL and that the server is running") from exc

    def _model_not_found(self, exc: Any) -> ModelNotFoundError:
        return model_not_found(self.model, self.base_url, exc.status_code, self._list_models(),
                               "check the model name, and that base_url ends in /v1")

    def _list_models(self) -> list[str]:
        try:
            return sorted(m.id for m in self._get_client().models.list())
        except Exception as exc:  # listing is a courtesy: servers without /models still get a message
            log.debug("listing models at %s failed: %s", self.base_url, type(exc).__name__)
            return []

    def _describe(self, exc: Any) -> str:
        status = getattr(exc, "status_code", None)
        message = getattr(exc, "message", "") or str(exc)
        key = os.environ.get(self.api_key_env, "")
        if key and len(key) >= 8:
            message = message.replace(key, "<redacted>")
        return f"HTTP {status}: {message}" if status is not None else message


def _is_retryable(exc: BaseException) -> bool:
    openai = _import_openai()
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return exc.code != "insufficient_quota"  # an empty account does not refill by waiting
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return False


def _server_delay(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after_seconds(response.headers) if response is not None else None
