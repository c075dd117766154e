"""Fixtures for the fine-tuning tests: a tiny real corpus + index (hashing embedder, real Chroma and
BM25), a SQuAD-format file and a qa.jsonl about it, and tiny real causal LMs (Llama / Qwen2
architecture, 2 layers, a byte-level BPE tokenizer trained here with a ChatML template): nothing
is downloaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ARTICLES = {
    "Kitsune Leave": [
        "Employees receive 20 days of paid leave per year. Unused days carry over up to 10 days.",
        "Parental leave lasts 16 weeks and is paid at full salary for the first 8 weeks.",
    ],
    "Kitsune VPN": [
        "Connect with WireGuard to vpn.kitsune.example on port 51820. Rotate keys every 90 days.",
        "The VPN client logs out after 12 hours of inactivity.",
    ],
    "休暇規程": [
        "休暇規程 [SEP] 年次有給休暇は入社6か月後に10日付与される。繰越しは最大20日まで。",
        "休暇規程 [SEP] 特別休暇として結婚休暇が5日与えられる。",
    ],
    "Kitsune Cafeteria": [
        "The cafeteria opens at 11:30 and serves vegetarian curry on Fridays.",
    ],
}
QUESTIONS = {  # (article, paragraph) -> [(question, answer)]
    ("Kitsune Leave", 0): [("How many days of paid leave do employees receive per year?", "20 days"),
                           ("How many unused days carry over?", "up to 10 days")],
    ("Kitsune Leave", 1): [("How long does parental leave last?", "16 weeks")],
    ("Kitsune VPN", 0): [("Which port does the VPN use?", "51820"),
                         ("How often must VPN keys be rotated?", "every 90 days")],
    ("Kitsune VPN", 1): [("When does the VPN client log out?", "after 12 hours of inactivity")],
    ("休暇規程", 0): [("年次有給休暇は入社何か月後に付与されますか？", "6か月後")],
    ("休暇規程", 1): [("結婚休暇は何日ですか？", "5日")],
    ("Kitsune Cafeteria", 0): [("When does the cafeteria open?", "11:30")],
}


def squad_json() -> dict[str, Any]:
    data = []
    for title, paras in ARTICLES.items():
        ps = []
        for pi, ctx in enumerate(paras):
            qas = [{"id": f"{title}-{pi}-{qi}", "question": q,
                    "answers": [{"text": a, "answer_start": ctx.find(a)}]}
                   for qi, (q, a) in enumerate(QUESTIONS.get((title, pi), []))]
            ps.append({"context": ctx, "qas": qas})
        data.append({"title": title, "paragraphs": ps})
    return {"version": "1.1", "data": data}


@pytest.fixture(scope="session")
def squad_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("squad") / "tiny-squad.json"
    path.write_text(json.dumps(squad_json(), ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def built_data(tmp_path_factory: pytest.TempPathFactory, squad_file: Path) -> Any:
    """``ragqa finetune data`` over the tiny SQuAD file (paragraphs ingested with the hashing
    embedder), refusal share 0.25, one distractor."""
    from rag_app.finetune.config import DataConfig
    from rag_app.finetune.data import build_dataset

    base = tmp_path_factory.mktemp("data")
    cfg = DataConfig(out_dir=base / "out", index_dir=base / "idx", embedder="hashing", qa_files=(squad_file,),
                     valid_share=0.25, refusal_share=0.25, distractors=1, seed=1)
    return build_dataset(cfg)


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_tokenizer() -> Any:
    """A byte-level BPE (vocab ~400) trained on the tiny corpus and the prompt rules."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from rag_app.prompting import system_prompt

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [p for ps in ARTICLES.values() for p in ps] + [system_prompt("en"), system_prompt("ja")]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   eos_token="<|im_end|>", bos_token="<|im_start|>")
    fast.chat_template = CHATML
    return fast


def save_tiny_model(path: Path, arch: str) -> Path:
    """A 2-layer ``arch`` ("llama" | "qwen2") causal LM with random weights and the tiny tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    tok = tiny_tokenizer()
    # widths of 64: bitsandbytes' CPU 4-bit kernels want every projection at least one 64-block wide
    kw = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=2, num_key_value_heads=2 if arch == "qwen2" else 1, max_position_embeddings=2048,
              eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
              tie_word_embeddings=True)
    cfg = LlamaConfig(**kw) if arch == "llama" else Qwen2Config(**kw)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="pip install 'ragqa[torch]'")
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama", "llama")


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="pip install 'ragqa[torch]'")
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2", "qwen2")
