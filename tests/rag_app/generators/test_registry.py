"""Generator specs and the automatic choice."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rag_app.generators import registry
from rag_app.generators.registry import GeneratorSpec, auto_generator, make_generator, parse_spec


@pytest.mark.parametrize(("spec", "expected"), [
    ("extractive", GeneratorSpec("extractive")),
    ("smollm2", GeneratorSpec("local", model="smollm2-135m-instruct")),
    ("qwen-1.5b", GeneratorSpec("local", model="qwen2.5-coder-1.5b-instruct")),
    ("qwen2.5-coder-1.5b-instruct", GeneratorSpec("local", model="qwen2.5-coder-1.5b-instruct")),
    ("llama-cpp:/m/a.gguf", GeneratorSpec("llama-cpp", path="/m/a.gguf")),
    ("hf:/m/a.gguf", GeneratorSpec("hf", path="/m/a.gguf")),
    ("hf:/m/a.gguf#adapter=/ad/x", GeneratorSpec("hf", path="/m/a.gguf", adapter="/ad/x")),
    ("openai:gpt-4o-mini", GeneratorSpec("openai", model="gpt-4o-mini")),
    ("anthropic:claude-haiku-4-5", GeneratorSpec("anthropic", model="claude-haiku-4-5")),
    ("openai-compatible:qwen@http://127.0.0.1:8080/v1",
     GeneratorSpec("openai-compatible", model="qwen", base_url="http://127.0.0.1:8080/v1")),
    ("openai-compatible:org/m@v2@https://h.example/v1",
     GeneratorSpec("openai-compatible", model="org/m@v2", base_url="https://h.example/v1")),
])
def test_parse_spec(spec: str, expected: GeneratorSpec) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(("spec", "why"), [
    ("gpt4", "unknown generator"),
    ("openai:", "nothing after 'openai:'"),
    ("ollama:llama3", "unknown generator kind 'ollama'"),
    ("openai-compatible:qwen", "expected <model>@http"),
    ("openai-compatible:qwen@localhost:8080", "expected <model>@http"),
    ("hf:/m/a.gguf#lora=/x", "unknown hf option 'lora=/x'"),
])
def test_bad_specs_name_the_value_and_list_allowed_forms(spec: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_spec(spec)
    msg = str(info.value)
    assert f"bad generator spec {spec!r}" in msg and why in msg
    assert "allowed forms: extractive, smollm2, qwen-1.5b, llama-cpp:/path/model.gguf" in msg


def test_make_generator_builds_the_right_backend_cheaply(tmp_path: Path) -> None:
    from rag_app.generators.anthropic_gen import AnthropicGenerator
    from rag_app.generators.hf_local import TransformersGenerator
    from rag_app.generators.llama_cpp_gen import LlamaCppGenerator
    from rag_app.generators.openai_compat import OpenAIGenerator

    g = make_generator("openai-compatible:qwen@http://127.0.0.1:8080/v1", timeout=5)
    assert isinstance(g, OpenAIGenerator) and g.base_url == "http://127.0.0.1:8080/v1" and g.timeout == 5
    assert g.name == "openai-compatible:qwen@http://127.0.0.1:8080/v1"
    o = make_generator("openai:gpt-4o-mini")
    assert isinstance(o, OpenAIGenerator) and o.is_official and o.model == "gpt-4o-mini"
    assert isinstance(make_generator("anthropic:claude-haiku-4-5"), AnthropicGenerator)
    ll = make_generator(f"llama-cpp:{tmp_path / 'none.gguf'}", n_ctx=1024)
    assert isinstance(ll, LlamaCppGenerator) and ll.n_ctx == 1024 and ll._llama is None
    hf = make_generator(f"hf:{tmp_path / 'm.gguf'}#adapter={tmp_path / 'ad'}")
    assert isinstance(hf, TransformersGenerator) and hf.adapter_dir == tmp_path / "ad"


def test_local_model_not_installed_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGQA_MODEL_DIR", str(tmp_path))
    from rag_app.models import ModelNotInstalledError

    with pytest.raises(ModelNotInstalledError, match=r"run `ragqa models install qwen2\.5-coder-1\.5b-instruct`"):
        make_generator("qwen-1.5b")


@pytest.mark.skipif(importlib.util.find_spec("rag_app.generators.extractive") is None,
                    reason="rag_app/generators/extractive.py is missing from this checkout (it ships with ragqa)")
def test_extractive_is_imported_lazily() -> None:
    gen = make_generator("extractive")
    assert type(gen).__name__ == "ExtractiveGenerator"


@pytest.fixture
def nothing_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "llama_cpp_available", lambda: False)


@pytest.mark.usefixtures("nothing_local")
@pytest.mark.parametrize(("config", "env", "expected"), [
    ({}, {}, "extractive"),
    ({"generator": "anthropic:claude-haiku-4-5"}, {"RAGQA_GENERATOR": "smollm2"}, "anthropic:claude-haiku-4-5"),
    ({}, {"RAGQA_GENERATOR": "openai:gpt-4o"}, "openai:gpt-4o"),
    ({"generator": "auto"}, {"OPENAI_API_KEY": "sk-x"}, "extractive"),  # a key without a model
    ({}, {"OPENAI_API_KEY": "sk-x", "RAGQA_OPENAI_MODEL": "gpt-4o-mini"}, "openai:gpt-4o-mini"),
    ({"anthropic_model": "claude-haiku-4-5"}, {"ANTHROPIC_API_KEY": "k"}, "anthropic:claude-haiku-4-5"),
    ({"openai_model": "gpt-4o-mini", "anthropic_model": "claude-haiku-4-5"},
     {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "k"}, "openai:gpt-4o-mini"),
    ({}, {"RAGQA_OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}, "openai-compatible:default@http://127.0.0.1:8080/v1"),
    ({"openai_model": "qwen"}, {"RAGQA_OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": "sk-x"},
     "openai-compatible:qwen@http://h:1/v1"),
])
def test_auto_generator(config: dict[str, str], env: dict[str, str], expected: str) -> None:
    assert auto_generator(config, env) == expected


def test_auto_answers_extractively_when_only_the_measured_weaker_local_models_are_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # BENCHMARKS.md: SmolLM2 and Qwen-1.5B answer fewer questions correctly *with* a citation than
    # the extractive generator, so installing them does not change what "auto" picks
    monkeypatch.setattr(registry, "llama_cpp_available", lambda: True)
    monkeypatch.setattr("rag_app.models.is_installed", lambda name, directory=None: True)
    assert auto_generator({}, {}) == "extractive"


def test_auto_picks_the_best_installed_listed_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "LOCAL_PREFERENCE", ("qwen-1.5b", "smollm2"))
    monkeypatch.setattr(registry, "llama_cpp_available", lambda: True)
    installed: set[str] = set()
    monkeypatch.setattr("rag_app.models.is_installed", lambda name, directory=None: name in installed)
    assert auto_generator({}, {}) == "extractive"
    installed.add("smollm2-135m-instruct")
    assert auto_generator({}, {}) == "smollm2"
    installed.add("qwen2.5-coder-1.5b-instruct")
    assert auto_generator({}, {}) == "qwen-1.5b"
    monkeypatch.setattr(registry, "llama_cpp_available", lambda: False)
    assert auto_generator({}, {}) == "extractive"


def test_bad_configured_spec_fails_at_choice() -> None:
    with pytest.raises(ValueError, match="bad generator spec 'gpt5'"):
        auto_generator(None, {"RAGQA_GENERATOR": "gpt5"})


def test_auto_spec_builds_a_generator_named_by_it() -> None:
    spec = auto_generator({"openai_model": "m"}, {"RAGQA_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert spec == "openai-compatible:m@http://127.0.0.1:9/v1" and make_generator(spec).name == spec


def test_importing_generators_pulls_no_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, rag_app.generators.registry, rag_app.generators.openai_compat, "
            "rag_app.generators.anthropic_gen, rag_app.generators.llama_cpp_gen, rag_app.generators.hf_local, "
            "rag_app.models; heavy = {'openai', 'anthropic', 'torch', 'transformers', 'llama_cpp', 'peft'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
