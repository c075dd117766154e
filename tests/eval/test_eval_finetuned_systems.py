"""ft:ADAPTER and rag+ft:ADAPTER end to end with a tiny LoRA adapter on a tiny Llama built here
(2 layers, word-level tokenizer trained here): nothing is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="pip install 'ragqa[torch]'")
pytest.importorskip("transformers", reason="pip install 'ragqa[torch]'")
pytest.importorskip("peft", reason="pip install peft")

from eval import runner
from eval.summary import load_run

WORDS = ["the", "a", "of", "to", "days", "leave", "paid", "vpn", "port", "is", "are", "how", "many", "what", "which", "10", "20", "日", "休暇", "有給", "何", "？", "?", ".", "[1]"]


def _tiny_base_and_adapter(root: Path) -> tuple[Path, Path]:
    import peft
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    from rag_app.generators.adapters import write_manifest

    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<s>", "</s>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>")
    base = root / "tiny-base"
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                      pad_token_id=1, bos_token_id=2, eos_token_id=3)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(str(base))
    fast.save_pretrained(str(base))
    adapter = root / "tiny-adapter"
    lora = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(model, lora).save_pretrained(str(adapter))
    write_manifest(adapter, base.name, None)
    return base, adapter


def test_ft_and_rag_ft_systems_run_and_report(run_config: Any, hashing_index: Path, qa_sample: Path,
                                              tmp_path: Path) -> None:
    base, adapter = _tiny_base_and_adapter(tmp_path)
    cfg_file = tmp_path / "ragqa.toml"
    cfg_file.write_text("[answer]\nmax_tokens = 4\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.run(run_config(qa_sample, out, hashing_index, (f"ft:{adapter}[base={base},name=ft]",
                                                                   f"rag+ft:{adapter}[base={base},name=rag+ft]"),
                                   limit=2, metrics=(), config_file=cfg_file))
    assert result.errors == [] and result.answered == 4
    run = load_run(out)
    ft, rag_ft = run.systems
    assert all(a.contexts == () and a.generator.endswith(f"#adapter={adapter}") for a in ft.answers.values())
    assert all(a.retrieved for a in rag_ft.answers.values())
    ident = run.manifest["systems"][0]["identity"]["model"]
    assert len(ident["adapter_sha256"]) == 64 and len(ident["model_sha256"]) == 64
    assert run.manifest["systems"][0]["identity"]["settings"]["template_version"] == "ragqa-closed-book-1"
