"""LlamaCppGenerator on the bundled SmolLM2-135M GGUF (skipped when llama.cpp or the model is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install llama-cpp-python")

from rag_app.generators.llama_cpp_gen import LlamaCppGenerator
from rag_app.models import ModelNotInstalledError, model_path
from rag_app.types import Generator, Message

MESSAGES = [Message("system", "You are a helpful assistant. Answer in one short sentence."),
            Message("user", "What is the capital of France?")]


@pytest.fixture(scope="module")
def smollm2() -> LlamaCppGenerator:
    try:
        path = model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))
    return LlamaCppGenerator(path, n_ctx=1024, name="smollm2")


def test_constructor_loads_nothing(tmp_path: Path) -> None:
    gen = LlamaCppGenerator(tmp_path / "missing.gguf")
    assert isinstance(gen, Generator) and gen._llama is None
    with pytest.raises(FileNotFoundError, match=r"missing\.gguf does not exist"):
        gen.generate(MESSAGES)


def test_generate_reports_tokens(smollm2: LlamaCppGenerator) -> None:
    result = smollm2.generate(MESSAGES, max_tokens=12)
    assert result.text and result.model == "smollm2"
    assert 20 < result.prompt_tokens < 60  # the two messages inside SmolLM2's chat template
    assert 1 <= result.completion_tokens <= 12
    assert result.finish_reason in ("stop", "length")
    assert (result.finish_reason == "length") == (result.completion_tokens == 12)


def test_stream_matches_generate_at_temperature_zero(smollm2: LlamaCppGenerator) -> None:
    expected = smollm2.generate(MESSAGES, max_tokens=12)
    events = list(smollm2.stream(MESSAGES, max_tokens=12))
    assert [e.done for e in events].count(True) == 1 and events[-1].done
    final = events[-1].result
    assert final is not None
    assert final.text == "".join(e.delta for e in events[:-1]) == expected.text
    assert (final.prompt_tokens, final.completion_tokens) == (expected.prompt_tokens, expected.completion_tokens)
    assert final.finish_reason == expected.finish_reason
