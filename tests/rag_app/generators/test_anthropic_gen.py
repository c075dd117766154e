"""AnthropicGenerator against recorded Messages API exchanges, through the real SDK."""

from __future__ import annotations

import pytest

pytest.importorskip("anthropic", reason="the anthropic SDK is not installed: pip install 'ragqa[anthropic]'")

from gen_recordings import Replay, load

from rag_app.generators.anthropic_gen import AnthropicGenerator
from rag_app.generators.errors import GeneratorAuthError, GeneratorUnavailableError, ModelNotFoundError
from rag_app.types import Generator, Message

KEY = "sk-ant-api03-test-key-0123456789abcdef"
MESSAGES = [Message("system", "Answer only from the context. Cite blocks as [n]."),
            Message("user", "Context:\n[1] Paid leave: 10 days...\n\nQuestion: How much paid leave do new hires get?")]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def make(replay: Replay, sleeps: list[float] | None = None, **kw: object) -> AnthropicGenerator:
    sink = sleeps if sleeps is not None else []
    return AnthropicGenerator("claude-haiku-4-5", http_client=replay.client(), sleep=sink.append, **kw)  # type: ignore[arg-type]


def test_generate_parses_answer_and_sends_system_apart() -> None:
    replay = Replay("anthropic_message")
    gen = make(replay)
    assert isinstance(gen, Generator)
    result = gen.generate(MESSAGES, max_tokens=200, temperature=0.0)
    expected = load("anthropic_message")["response"]["body"]
    assert result.text == expected["content"][0]["text"]
    assert (result.prompt_tokens, result.completion_tokens) == (412, 31)
    assert result.finish_reason == "stop"
    assert result.model == "claude-haiku-4-5-20251001"
    [body] = replay.bodies("/v1/messages")
    assert body["system"] == MESSAGES[0].content
    assert body["messages"] == [{"role": "user", "content": MESSAGES[1].content}]
    assert body["max_tokens"] == 200 and body["model"] == "claude-haiku-4-5"
    headers = replay.requests[0].headers  # SDK 2.x sends the key as a bearer token, 0.x as x-api-key
    assert KEY in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))


def test_stream_yields_deltas_then_final_result_with_usage() -> None:
    replay = Replay("anthropic_stream")
    events = list(make(replay).stream(MESSAGES))
    deltas = [e.delta for e in events if not e.done]
    assert len(deltas) == 5
    assert events[-1].done and events[-1].result is not None
    result = events[-1].result
    assert result.text == "".join(deltas)
    assert result.text.endswith("for one year [2].")
    assert (result.prompt_tokens, result.completion_tokens) == (412, 31)
    assert sum(e.done for e in events) == 1
    assert replay.bodies("/v1/messages")[0]["stream"] is True


def test_401_names_server_and_env_var_but_not_the_key() -> None:
    gen = make(Replay("anthropic_401"))
    with pytest.raises(GeneratorAuthError) as info:
        gen.generate(MESSAGES)
    msg = str(info.value)
    assert "authentication failed for https://api.anthropic.com" in msg
    assert "ANTHROPIC_API_KEY" in msg
    assert KEY not in msg and KEY not in repr(gen)


def test_429_is_retried_after_retry_after_then_succeeds() -> None:
    replay = Replay("anthropic_429", "anthropic_message")
    sleeps: list[float] = []
    result = make(replay, sleeps).generate(MESSAGES)
    assert result.completion_tokens == 31
    assert len(replay.requests) == 2
    assert sleeps == [3.0]  # the recorded Retry-After header


def test_529_overloaded_retries_with_backoff_then_gives_up() -> None:
    replay = Replay("anthropic_529")
    sleeps: list[float] = []
    with pytest.raises(GeneratorUnavailableError, match=r"overloaded after 2 retries.*529 overloaded_error"):
        make(replay, sleeps, max_retries=2).generate(MESSAGES)
    assert len(replay.requests) == 3
    # exponential: 0.5 s then 1 s, each shortened by at most 25 % of jitter
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_529_then_success_in_stream() -> None:
    replay = Replay("anthropic_529", "anthropic_stream")
    events = list(make(replay).stream(MESSAGES))
    assert events[-1].result is not None and events[-1].result.completion_tokens == 31
    assert len(replay.requests) == 2


def test_overloaded_event_mid_stream_is_reported() -> None:
    gen = make(Replay("anthropic_stream_overloaded_midway"))
    seen: list[str] = []
    with pytest.raises(GeneratorUnavailableError, match="broke after 2 chunks"):
        for ev in gen.stream(MESSAGES):
            seen.append(ev.delta)
    assert seen == ["New employees receive ", "10 days of paid annual leave"]


def test_unknown_model_lists_available_models() -> None:
    replay = Replay("anthropic_404_model", "anthropic_models")
    gen = make(replay)
    with pytest.raises(ModelNotFoundError) as info:
        gen.generate(MESSAGES)
    assert "model 'claude-haiku-4-5' not found" in str(info.value)
    assert "claude-haiku-4-5-20251001" in str(info.value)
    assert info.value.available == ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001")
    assert len(replay.requests) == 2  # a 404 is not retried


def test_missing_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    replay = Replay("anthropic_message")
    with pytest.raises(GeneratorAuthError, match="ANTHROPIC_API_KEY is not set"):
        make(replay).generate(MESSAGES)
    assert replay.requests == []


def test_constructor_is_cheap_and_validates() -> None:
    gen = AnthropicGenerator("claude-haiku-4-5")
    assert gen._client is None and gen.name == "anthropic:claude-haiku-4-5"
    with pytest.raises(ValueError, match="model is empty"):
        AnthropicGenerator("")
