"""Serving a tuned adapter: the ``#adapter=`` spec forms and llama.cpp's manifest check, which
refuses an adapter of another base (naming both) before any model loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag_app.generators.adapters import GGUF_LORA_FILE, write_manifest
from rag_app.generators.errors import AdapterMismatchError
from rag_app.generators.llama_cpp_gen import LlamaCppGenerator
from rag_app.generators.registry import make_generator, parse_spec
from rag_app.types import Message


def test_adapter_spec_forms() -> None:
    assert parse_spec("smollm2#adapter=/a/b").adapter == "/a/b"
    assert parse_spec("smollm2#adapter=/a/b").model == "smollm2-135m-instruct"
    p = parse_spec("llama-cpp:/m/x.gguf#adapter=ad")
    assert (p.kind, p.path, p.adapter) == ("llama-cpp", "/m/x.gguf", "ad")
    with pytest.raises(ValueError, match=r"unknown option 'lora=x' \(only #adapter=/path\)"):
        parse_spec("smollm2#lora=x")
    gen = make_generator("llama-cpp:/m/x.gguf#adapter=ad")
    assert isinstance(gen, LlamaCppGenerator) and gen.adapter_dir == Path("ad")


@pytest.fixture
def smollm2() -> Path:
    from rag_app.models import ModelNotInstalledError, model_path

    pytest.importorskip("llama_cpp", reason="pip install llama-cpp-python==0.3.36")
    try:
        return model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))


def _adapter(tmp_path: Path, base_id: str, sha: str | None) -> Path:
    ad = tmp_path / "ad"
    ad.mkdir()
    (ad / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    write_manifest(ad, base_id, sha)
    return ad


@pytest.mark.network_blocked
def test_llama_cpp_refuses_an_adapter_of_another_base(smollm2: Path, tmp_path: Path) -> None:
    gen = LlamaCppGenerator(smollm2, adapter_dir=_adapter(tmp_path, "qwen2.5-coder-1.5b-instruct", None))
    with pytest.raises(AdapterMismatchError, match=re.escape(
            "trained on base model 'qwen2.5-coder-1.5b-instruct', but the loaded base is 'smollm2-135m-instruct'")):
        gen.generate([Message("user", "hi")], max_tokens=2)
    assert gen._llama is None


@pytest.mark.network_blocked
def test_llama_cpp_names_the_export_command_when_the_gguf_lora_is_missing(smollm2: Path, tmp_path: Path) -> None:
    from rag_app.models import get_spec

    spec = get_spec("smollm2")
    gen = LlamaCppGenerator(smollm2, adapter_dir=_adapter(tmp_path, spec.name, spec.sha256))
    with pytest.raises(FileNotFoundError, match=f"{GGUF_LORA_FILE} is missing: convert the adapter with "
                                                "`ragqa finetune export-gguf"):
        gen.generate([Message("user", "hi")], max_tokens=2)
