"""Training on tiny real models built in the test (2-layer Llama / Qwen2, a tokenizer trained
here): SFT LoRA, QLoRA on CPU (bitsandbytes NF4) and DPO run a few steps, write an adapter with
its manifest and TensorBoard events, resume from a checkpoint, stop cleanly on Ctrl-C, and reload
through the ``hf:`` generator (which refuses them on another base)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="pip install 'ragqa[finetune]'")
pytest.importorskip("peft", reason="pip install 'ragqa[finetune]'")

from rag_app import PROMPT_TEMPLATE_VERSION
from rag_app.finetune.card import sha256_of
from rag_app.finetune.config import DataConfig, TrainConfig
from rag_app.finetune.data import build_dataset
from rag_app.finetune.manifest import training_record
from rag_app.finetune.records import read_jsonl
from rag_app.finetune.train import last_checkpoint, train
from rag_app.generators.errors import AdapterMismatchError
from rag_app.generators.hf_local import TransformersGenerator
from rag_app.generators.registry import make_generator
from rag_app.types import Message

FAST = dict(max_steps=2, save_steps=1, eval_steps=1, logging_steps=1, grad_accum=1, max_length=1024, rank=4,
            alpha=8, eval_max_records=2)


def _generate(base: Path, adapter: Path) -> str:
    gen = make_generator(f"hf:{base}#adapter={adapter}")
    assert isinstance(gen, TransformersGenerator)
    out = gen.generate([Message("user", "Which port does the VPN use?")], max_tokens=4)
    assert out.completion_tokens >= 1
    return out.text


@pytest.fixture(scope="module")
def sft(tiny_llama: Path, built_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("sft") / "adapter"
    return train(TrainConfig(base=str(tiny_llama), data_dir=built_data.out_dir, out_dir=out, **FAST))


@pytest.mark.network_blocked
def test_sft_writes_adapter_manifest_and_events(sft: Any, tiny_llama: Path, built_data: Any) -> None:
    rec = training_record(sft.adapter_dir)
    assert rec["base_model_id"] == tiny_llama.name and rec["base_model_sha256"] is None
    assert rec["method"] == "lora" and rec["template_version"] == PROMPT_TEMPLATE_VERSION
    assert rec["data_card_sha256"] == sha256_of(built_data.card_path)
    assert rec["hyperparameters"]["rank"] == 4 and rec["metrics"]["steps"] == 2
    assert rec["metrics"]["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"]
    assert rec["metrics"]["eval_loss"] > 0 and rec["metrics"]["tokens_per_s"] > 0
    peft_cfg = json.loads((sft.adapter_dir / "adapter_config.json").read_text())
    assert sorted(peft_cfg["target_modules"]) == sorted(rec["metrics"]["lora_targets"])
    events = list((sft.adapter_dir / "runs").rglob("events.out.tfevents.*"))
    assert events and sum(e.stat().st_size for e in events) > 0
    assert last_checkpoint(sft.adapter_dir / "checkpoints") is not None


@pytest.mark.network_blocked
def test_sft_adapter_reloads_through_hf_and_is_refused_on_another_base(sft: Any, tiny_llama: Path,
                                                                       tiny_qwen2: Path) -> None:
    assert isinstance(_generate(tiny_llama, sft.adapter_dir), str)
    with pytest.raises(AdapterMismatchError,
                       match=f"trained on base model '{tiny_llama.name}', but the loaded base is '{tiny_qwen2.name}'"):
        _generate(tiny_qwen2, sft.adapter_dir)


def test_completion_only_loss_masks_the_prompt(tiny_llama: Path, built_data: Any) -> None:
    """trl's prompt/completion collation: only the answer tokens (and the end of turn) carry loss."""
    import trl
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    row = read_jsonl(built_data.files["train"])[0]
    from datasets import Dataset

    ds = Dataset.from_list([{"prompt": row["prompt"], "completion": row["completion"]}])
    args = trl.SFTConfig(output_dir="/tmp/unused", completion_only_loss=True, bf16=False, use_cpu=True,
                         report_to=[], max_length=4096)
    from rag_app.finetune.train import load_model, resolve_base

    trainer = trl.SFTTrainer(model=load_model(resolve_base(str(tiny_llama)), TrainConfig(
        base=str(tiny_llama), data_dir=built_data.out_dir, out_dir=Path("/tmp/unused"))), args=args,
        train_dataset=ds, processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0].tolist()
    kept = tok.decode([t for t in labels if t != -100])
    assert kept.strip().startswith(row["completion"][0]["content"])
    assert sum(t != -100 for t in labels) < len(labels) / 5


@pytest.mark.slow
def test_resume_continues_from_the_newest_checkpoint(tiny_llama: Path, built_data: Any, tmp_path: Path) -> None:
    out = tmp_path / "ad"
    cfg = TrainConfig(base=str(tiny_llama), data_dir=built_data.out_dir, out_dir=out, **FAST)
    train(cfg)
    assert Path(last_checkpoint(out / "checkpoints") or "").name == "checkpoint-2"
    more = TrainConfig(base=str(tiny_llama), data_dir=built_data.out_dir, out_dir=out, **{**FAST, "max_steps": 3})
    result = train(more)
    assert result.metrics["steps"] == 3
    state = json.loads((Path(last_checkpoint(out / "checkpoints") or "") / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert [h["step"] for h in state["log_history"] if "loss" in h][:2] == [1, 2]  # steps 1-2 came from the first run


@pytest.mark.slow
def test_ctrl_c_stops_with_a_checkpoint_and_a_usable_adapter(tiny_llama: Path, built_data: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import rag_app.finetune.train as tr

    original = tr._StopOnSignal.on_step_end

    def press_ctrl_c(self: Any, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        if state.global_step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the real signal, through the installed handler
        return original(self, args, state, control, **kw)

    monkeypatch.setattr(tr._StopOnSignal, "on_step_end", press_ctrl_c)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the test run itself was started in the background
    out = tmp_path / "ad"
    result = train(TrainConfig(base=str(tiny_llama), data_dir=built_data.out_dir, out_dir=out,
                               **{**FAST, "max_steps": 10, "save_steps": 100}))
    assert result.interrupted and result.metrics["steps"] == 1
    assert Path(last_checkpoint(out / "checkpoints") or "").name == "checkpoint-1"
    assert training_record(out)["interrupted"] is True
    assert isinstance(_generate(tiny_llama, out), str)
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is restored


@pytest.mark.slow
def test_qlora_on_cpu(tiny_qwen2: Path, built_data: Any, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes", reason="pip install bitsandbytes==0.50.2")
    out = tmp_path / "q"
    result = train(TrainConfig(base=str(tiny_qwen2), data_dir=built_data.out_dir, out_dir=out, method="qlora",
                               **FAST))
    assert training_record(out)["method"] == "qlora" and result.metrics["steps"] == 2
    assert isinstance(_generate(tiny_qwen2, out), str)  # served on the fp32 base


@pytest.fixture(scope="module")
def preference_data(built_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feedback naming chunks of the built index: good answers and bad + corrected ones."""
    base = tmp_path_factory.mktemp("prefs")
    rows = read_jsonl(built_data.files["train"]) + read_jsonl(built_data.files["valid"])
    lines = []
    for r in rows:
        ids = r["meta"]["chunk_ids"]
        lines.append({"question": r["meta"]["question"], "answer": "no idea", "rating": "bad", "contexts": ids,
                      "corrected_answer": r["completion"][0]["content"]})
        lines.append({"question": r["meta"]["question"], "answer": r["completion"][0]["content"], "rating": "good",
                      "contexts": ids})
    fb = base / "feedback.jsonl"
    fb.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    cfg = DataConfig(out_dir=base / "data", index_dir=Path(json.loads(built_data.card_path.read_text())["settings"][
        "index_dir"]), embedder="hashing", feedback_files=(fb,), valid_share=0.25, seed=1)
    built = build_dataset(cfg)
    assert "preferences" in built.files and not built.issues
    return built.out_dir


@pytest.mark.slow
def test_dpo_on_top_of_the_sft_adapter(sft: Any, tiny_llama: Path, preference_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "dpo"
    result = train(TrainConfig(base=str(tiny_llama), data_dir=preference_data, out_dir=out, method="dpo",
                               sft_adapter=sft.adapter_dir, **FAST))
    rec = training_record(out)
    assert rec["method"] == "dpo" and result.metrics["steps"] == 2
    assert rec["hyperparameters"]["sft_adapter"] == str(sft.adapter_dir)
    assert isinstance(_generate(tiny_llama, out), str)


def test_config_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown method 'full'; allowed: lora, qlora, dpo"):
        TrainConfig(base="smollm2", data_dir=tmp_path, out_dir=tmp_path, method="full")
    with pytest.raises(ValueError, match="pass --sft-adapter DIR"):
        TrainConfig(base="smollm2", data_dir=tmp_path, out_dir=tmp_path, method="dpo")
    from rag_app.finetune.config import targets_for

    with pytest.raises(ValueError, match=r"no LoRA target modules known for model_type 'gpt2'.*--targets"):
        targets_for("gpt2")
    assert targets_for("qwen2") == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
