"""OpenAIGenerator against recorded Chat Completions exchanges, through the real SDK."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("openai", reason="the openai SDK is not installed: pip install 'ragqa[openai]'")

from gen_recordings import Replay, load

from rag_app.generators.errors import (
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailableError,
    ModelNotFoundError,
)
from rag_app.generators.openai_compat import PLACEHOLDER_KEY, OpenAIGenerator
from rag_app.types import Generator, Message

KEY = "sk-test-abcdefghijklmnopqrstuvwxyz7890"
MESSAGES = [Message("system", "Answer only from the context."), Message("user", "How much paid leave?")]


def make(replay: Replay, sleeps: list[float] | None = None, **kw: object) -> OpenAIGenerator:
    sink = sleeps if sleeps is not None else []
    return OpenAIGenerator("gpt-4o-mini", http_client=replay.client(), sleep=sink.append, **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def test_generate_parses_answer_and_usage() -> None:
    replay = Replay("openai_chat")
    gen = make(replay)
    assert isinstance(gen, Generator)
    result = gen.generate(MESSAGES, max_tokens=100)
    assert result.text == load("openai_chat")["response"]["body"]["choices"][0]["message"]["content"]
    assert (result.prompt_tokens, result.completion_tokens, result.finish_reason) == (398, 29, "stop")
    [body] = replay.bodies("/v1/chat/completions")
    assert body["messages"] == [{"role": "system", "content": "Answer only from the context."},
                                {"role": "user", "content": "How much paid leave?"}]
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body  # api.openai.com form
    assert replay.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_stream_asks_for_usage_and_reports_it() -> None:
    replay = Replay("openai_stream")
    events = list(make(replay).stream(MESSAGES))
    assert [e.delta for e in events[:-1]] == ["New employees receive ", "10 days of paid annual leave",
                                            " in their first year [1]. ", "Unused days carry over",
                                            " for one year [2]."]
    final = events[-1]
    assert final.done and final.result is not None
    assert final.result.text.startswith("New employees receive 10 days")
    assert (final.result.prompt_tokens, final.result.completion_tokens) == (398, 29)
    body = replay.bodies("/v1/chat/completions")[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_without_usage_support_counts_chunks() -> None:
    # A server that rejects stream_options: the generator retries without it and counts chunks.
    import httpx2
    from gen_recordings import to_response

    seen: list[bytes] = []
    rec = load("openai_stream")
    rec["response"]["events"] = [e for e in rec["response"]["events"]  # no usage chunk
                                 if e["data"] == "[DONE]" or e["data"]["choices"]]

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.content)
        if b"stream_options" in request.content:
            return httpx2.Response(400, json={"error": {
                "message": "Unrecognized request argument supplied: stream_options",
                "type": "invalid_request_error", "param": None, "code": None}})
        return to_response(rec)

    gen = OpenAIGenerator("local", base_url="http://127.0.0.1:9/v1",
                          http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    final = list(gen.stream(MESSAGES))[-1].result
    assert final is not None and final.completion_tokens == 5 and final.prompt_tokens == 0
    assert final.text.endswith("for one year [2].")
    assert len(seen) == 2
    list(gen.stream(MESSAGES))  # remembered: no second rejected try
    assert len(seen) == 3


def test_401_message_names_server_and_env_and_hides_key(caplog: pytest.LogCaptureFixture) -> None:
    gen = make(Replay("openai_401"))
    with caplog.at_level(logging.DEBUG), pytest.raises(GeneratorAuthError) as info:
        gen.generate(MESSAGES)
    assert str(info.value).startswith("authentication failed for https://api.openai.com/v1: set OPENAI_API_KEY")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert KEY not in str(info.value) and KEY not in repr(gen) and KEY not in caplog.text


def test_unknown_model_lists_what_the_server_has() -> None:
    replay = Replay("openai_404_model", "openai_models")
    with pytest.raises(ModelNotFoundError) as info:
        make(replay).generate(MESSAGES)
    assert "model 'gpt-4o-mini' not found at https://api.openai.com/v1 (HTTP 404)" in str(info.value)
    assert info.value.available == ("gpt-4.1-mini", "gpt-4o", "gpt-4o-mini")
    assert len(replay.bodies("/v1/chat/completions")) == 1  # not retried


def test_429_then_200_retries_with_backoff() -> None:
    replay = Replay("openai_429", "openai_429", "openai_chat")
    sleeps: list[float] = []
    result = make(replay, sleeps).generate(MESSAGES)
    assert result.completion_tokens == 29
    assert len(sleeps) == 2 and 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_429_retries_exhausted_then_unavailable() -> None:
    replay = Replay("openai_429")
    sleeps: list[float] = []
    with pytest.raises(GeneratorUnavailableError, match="still failing after 1 retries: HTTP 429"):
        make(replay, sleeps, max_retries=1).generate(MESSAGES)
    assert len(replay.requests) == 2 and len(sleeps) == 1


def test_insufficient_quota_is_not_retried() -> None:
    replay = Replay("openai_429_quota")
    with pytest.raises(GeneratorError, match="exceeded your current quota"):
        make(replay).generate(MESSAGES)
    assert len(replay.requests) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    import httpx2

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    gen = OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", max_retries=2, sleep=sleeps.append,
                          http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)))
    with pytest.raises(GeneratorUnavailableError, match=r"cannot reach http://127.0.0.1:9/v1 after 2 retries"):
        gen.generate(MESSAGES)
    assert len(sleeps) == 2


def test_compatible_server_without_key_uses_placeholder_and_max_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    replay = Replay("openai_chat")
    gen = OpenAIGenerator("qwen", base_url="http://127.0.0.1:9/v1/", http_client=replay.client())
    gen.generate(MESSAGES, max_tokens=64)
    assert replay.requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    assert replay.requests[0].url.host == "127.0.0.1"
    body = replay.bodies("/v1/chat/completions")[0]
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert gen.name == "openai-compatible:qwen@http://127.0.0.1:9/v1"


def test_official_api_without_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    replay = Replay("openai_chat")
    with pytest.raises(GeneratorAuthError, match="OPENAI_API_KEY is not set"):
        make(replay).generate(MESSAGES)
    assert replay.requests == []


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="max_tokens is 0"):
        OpenAIGenerator("m").generate(MESSAGES, max_tokens=0)
    with pytest.raises(ValueError, match=r"messages\[0\].role is 'tool'"):
        OpenAIGenerator("m").generate([Message("tool", "x")])
