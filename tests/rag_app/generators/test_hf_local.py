"""TransformersGenerator on the bundled SmolLM2 GGUF, with and without a LoRA adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install 'ragqa[torch]'")
pytest.importorskip("transformers", reason="transformers is not installed: pip install 'ragqa[torch]'")
pytest.importorskip("gguf", reason="gguf is not installed: pip install 'ragqa[finetune]'")

from rag_app.generators.adapters import write_manifest
from rag_app.generators.errors import AdapterMismatchError
from rag_app.generators.hf_local import TransformersGenerator, base_identity
from rag_app.models import ModelNotInstalledError, get_spec, model_path
from rag_app.types import Generator, Message

MESSAGES = [Message("system", "You are a helpful assistant. Answer in one short sentence."),
            Message("user", "What is the capital of France?")]


@pytest.fixture(scope="module")
def gguf() -> Path:
    try:
        return model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def base(gguf: Path) -> TransformersGenerator:
    return TransformersGenerator(gguf, n_threads=2)


def _save_adapter(base: TransformersGenerator, out: Path, base_id: str, sha: str | None) -> Path:
    """A random-init LoRA (B != 0, so it changes outputs) with the base's shapes, saved with peft."""
    peft = pytest.importorskip("peft", reason="peft is not installed: pip install 'ragqa[finetune]'")
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    skeleton = AutoModelForCausalLM.from_config(base._load().model.config)
    cfg = peft.LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(skeleton, cfg).save_pretrained(str(out))
    write_manifest(out, base_id, sha)
    return out


def test_base_identity_recognises_the_catalogue_file(gguf: Path) -> None:
    assert base_identity(gguf) == ("smollm2-135m-instruct", get_spec("smollm2").sha256)


def test_mismatched_adapter_is_refused_before_loading(gguf: Path, tmp_path: Path) -> None:
    ad = tmp_path / "ad"
    ad.mkdir()
    (ad / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    write_manifest(ad, "qwen2.5-coder-1.5b-instruct", "0" * 64)
    gen = TransformersGenerator(gguf, ad)
    with pytest.raises(AdapterMismatchError, match=r"trained on base model 'qwen2\.5-coder-1\.5b-instruct'"):
        gen.generate(MESSAGES, max_tokens=4)
    assert gen._loaded is None


@pytest.mark.slow
def test_generate_and_stream_with_chat_template(base: TransformersGenerator) -> None:
    assert isinstance(base, Generator)
    result = base.generate(MESSAGES, max_tokens=10)
    assert result.text
    assert 20 < result.prompt_tokens < 60 and 1 <= result.completion_tokens <= 10
    assert (result.finish_reason == "length") == (result.completion_tokens == 10)
    events = list(base.stream(MESSAGES, max_tokens=10))
    final = events[-1].result
    assert events[-1].done and final is not None
    assert final.text == "".join(e.delta for e in events[:-1]).strip() == result.text
    assert (final.prompt_tokens, final.completion_tokens) == (result.prompt_tokens, result.completion_tokens)


@pytest.mark.slow
def test_lora_adapter_loads_and_changes_the_output(base: TransformersGenerator, gguf: Path,
                                                   tmp_path: Path) -> None:
    spec = get_spec("smollm2")
    ad = _save_adapter(base, tmp_path / "lora", spec.name, spec.sha256)
    plain = base.generate(MESSAGES, max_tokens=8)
    tuned = TransformersGenerator(gguf, ad, n_threads=2)
    out = tuned.generate(MESSAGES, max_tokens=8)
    loaded = tuned._load()
    assert loaded.adapter is not None and loaded.adapter.base_model_id == "smollm2-135m-instruct"
    import peft

    assert isinstance(loaded.model, peft.PeftModel)
    assert out.text != plain.text  # a random, non-zero LoRA moves the greedy answer
    assert out.prompt_tokens == plain.prompt_tokens


@pytest.mark.slow
def test_adapter_for_another_base_id_is_refused(base: TransformersGenerator, gguf: Path, tmp_path: Path) -> None:
    ad = _save_adapter(base, tmp_path / "lora", "SmolLM2-360M-Instruct", None)
    with pytest.raises(AdapterMismatchError, match="'SmolLM2-360M-Instruct', but the loaded base is 'smollm2-135m-instruct'"):
        TransformersGenerator(gguf, ad).generate(MESSAGES, max_tokens=4)
