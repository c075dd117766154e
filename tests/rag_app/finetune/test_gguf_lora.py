"""The GGUF LoRA converter, checked against llama.cpp's own loading: on the bundled SmolLM2 GGUF
(llama architecture, permuted q/k), llama.cpp + the converted adapter gives the logits that
transformers + peft give for the same tokens; without the q/k row permutation it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag_app.finetune.gguf_lora import convert_adapter, effective_alpha, permute_rows
from rag_app.generators.llama_loading import open_llama

PROMPT = "<|im_start|>user\nWhich port does the VPN use?<|im_end|>\n<|im_start|>assistant\n"


def test_permutation_interleaves_the_rotary_halves_per_head() -> None:
    w = np.arange(8 * 3).reshape(8, 3)  # 2 heads of dim 4: rows [0 1 2 3 | 4 5 6 7]
    got = permute_rows(w, n_head=2)
    assert [int(r) for r in got[:, 0] // 3] == [0, 2, 1, 3, 4, 6, 5, 7]
    kv = permute_rows(np.arange(4 * 2).reshape(4, 2), n_head=8, n_head_kv=1)  # one kv head of dim 4
    assert [int(r) for r in kv[:, 0] // 2] == [0, 2, 1, 3]


def test_rslora_alpha_and_dora_refused() -> None:
    assert effective_alpha({"r": 16, "lora_alpha": 32}) == 32
    assert effective_alpha({"r": 16, "lora_alpha": 32, "use_rslora": True}) == 128
    with pytest.raises(ValueError, match="DoRA adapters cannot be converted"):
        effective_alpha({"r": 8, "lora_alpha": 8, "use_dora": True})


@pytest.fixture(scope="module")
def smollm2() -> Path:
    from rag_app.models import ModelNotInstalledError, model_path

    pytest.importorskip("llama_cpp", reason="pip install llama-cpp-python==0.3.36")
    pytest.importorskip("peft", reason="pip install peft")
    try:
        return model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))


def _llama_logits(gguf: Path, ids: list[int], lora: Path | None) -> np.ndarray:
    import llama_cpp

    llm = open_llama(llama_cpp, model_path=str(gguf), n_ctx=256, n_threads=2, verbose=False, logits_all=True,
                     **({"lora_path": str(lora)} if lora else {}))
    llm.eval(ids)
    out = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    llm.close()
    return out


def _err(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference of two logit vectors, each centred (logits are defined up to a constant)."""
    return float(np.sqrt(np.mean(((a - a.mean()) - (b - b.mean())) ** 2)))


@pytest.mark.slow
def test_llama_cpp_applies_the_converted_adapter_like_peft(smollm2: Path, tmp_path: Path) -> None:
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    from rag_app.generators.adapters import write_manifest
    from rag_app.models import get_spec

    torch.manual_seed(0)
    model: Any = AutoModelForCausalLM.from_pretrained(str(smollm2.parent), gguf_file=smollm2.name,
                                                      dtype=torch.float32, local_files_only=True)
    cfg = peft.LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    tuned = peft.get_peft_model(model, cfg)
    with torch.no_grad():  # a large, non-zero update so the adapter clearly moves the logits
        for name, p in tuned.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    ad = tmp_path / "ad"
    tuned.save_pretrained(str(ad))
    spec = get_spec("smollm2")
    write_manifest(ad, spec.name, spec.sha256)

    import llama_cpp

    vocab_llm = open_llama(llama_cpp, model_path=str(smollm2), n_ctx=256, verbose=False, vocab_only=True)
    ids = vocab_llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    with torch.no_grad():
        hf_tuned = tuned(torch.tensor([ids])).logits[0, -1].double().numpy()
    lora = convert_adapter(ad, smollm2, dtype="f32")
    cpp_tuned = _llama_logits(smollm2, ids, lora)
    cpp_base = _llama_logits(smollm2, ids, None)
    err = _err(cpp_tuned, hf_tuned)  # Q4_1 matmuls in llama.cpp vs fp32 in torch: small, not 0
    assert err < 0.3 * _err(cpp_base, hf_tuned)  # the adapter is applied, and applied as peft applies it
    assert int(np.argmax(cpp_tuned)) == int(np.argmax(hf_tuned))

    import rag_app.finetune.gguf_lora as gl

    unpermuted = tmp_path / "unpermuted.gguf"
    orig = gl.PERMUTED_QK
    gl.PERMUTED_QK = ()
    try:
        convert_adapter(ad, smollm2, out=unpermuted, dtype="f32")
    finally:
        gl.PERMUTED_QK = orig
    assert _err(_llama_logits(smollm2, ids, unpermuted), hf_tuned) > 2 * err
