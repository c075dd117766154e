"""``ragqa finetune train``: one LoRA adapter from one data directory, as a recipe.

    config -> data -> base model -> trainer -> train (resumable, Ctrl-C safe) -> evaluate -> save + manifest

- ``lora``: trl ``SFTTrainer`` + peft LoRA on the fp32 base, completion-only loss (the prompt's
  tokens carry no loss), targets per architecture (``config.targets_for``).
- ``qlora``: the same on a 4-bit NF4 base through bitsandbytes (CPU backend for tests; CUDA runs
  the same code). A GGUF base is de-quantised once to an fp32 copy under ``out_dir/base-fp32``
  first, since bitsandbytes quantises from full-precision weights.
- ``dpo``: trl ``DPOTrainer`` on preference pairs, continuing an SFT adapter; the reference model
  is that SFT adapter frozen.

Bases: a catalogue name (``smollm2``...: its installed GGUF, de-quantised by transformers), a
``.gguf`` file, or a local Hugging Face model directory. Nothing is downloaded.

Progress: the trainer's bar and log lines carry loss, eval loss and ``tokens_per_s``; the same go
to TensorBoard event files in ``out_dir/runs`` (and to wandb when asked). Checkpoints in
``out_dir/checkpoints`` every ``save_steps``; a rerun resumes from the newest. The first Ctrl-C
stops at the end of the current step with a checkpoint and a usable adapter; a second one aborts.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import resource
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .card import CARD_FILE, read_card, sha256_of
from .config import TrainConfig, targets_for
from .manifest import write_training_manifest
from .records import read_jsonl

INSTALL_HINT = "pip install 'ragqa[torch,finetune]'  (after: pip install torch==2.13.0)"
QLORA_HINT = "pip install bitsandbytes==0.50.2"

try:
    import torch
    import transformers
    from transformers import TrainerCallback
except ImportError as _exc:
    raise ImportError(f"ragqa finetune train needs torch and transformers: {INSTALL_HINT}") from _exc


def _need(name: str, hint: str = INSTALL_HINT) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"ragqa finetune train needs {name}: {hint}") from exc


@dataclass(frozen=True, slots=True)
class Base:
    """A base model on disk: ``path`` (a .gguf file or a model dir) and its identity."""

    path: Path
    model_id: str
    sha256: str | None

    @property
    def where(self) -> tuple[str, dict[str, str]]:
        """(directory, extra from_pretrained kwargs) for transformers."""
        if self.path.is_file():
            return str(self.path.parent), {"gguf_file": self.path.name}
        return str(self.path), {}


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    manifest_path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


# -- base ---------------------------------------------------------------------------------------

def resolve_base(base: str) -> Base:
    """A catalogue name, a .gguf file or a model directory -> ``Base`` (id and sha256 as the
    ``hf:`` generator derives them, so its adapter check accepts the result)."""
    from rag_app.generators.hf_local import base_identity
    from rag_app.models import UnknownModelError, model_path

    path = Path(base).expanduser()
    if not path.exists():
        try:
            path = model_path(base)
        except UnknownModelError:
            raise FileNotFoundError(
                f"base {base!r} is neither a file, a directory nor a catalogue model: give a .gguf file, a "
                "Hugging Face model directory or a name from `ragqa models list`") from None
    if path.is_file() and path.suffix != ".gguf":
        raise ValueError(f"base {path} is not a .gguf file; give a .gguf file or a model directory")
    model_id, sha = base_identity(path)
    return Base(path=path, model_id=model_id, sha256=sha)


def _on_cuda() -> bool:
    return bool(torch.cuda.is_available())


def load_tokenizer(base: Base) -> Any:
    where, extra = base.where
    tok = transformers.AutoTokenizer.from_pretrained(where, local_files_only=True, **extra)
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"base {base.path} has no chat template: ragqa trains on chat prompts; use an "
                         "instruct/chat model (its tokenizer_config.json or GGUF holds the template)")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def fp32_copy(base: Base, cache: Path) -> Path:
    """A GGUF base de-quantised and saved as safetensors under ``cache`` (once): bitsandbytes
    quantises from full-precision weights. transformers refuses to save a GGUF-loaded model
    until its gguf quantizer record is removed."""
    if (cache / "config.json").is_file():
        return cache
    where, extra = base.where
    model = _load_fp32(where, extra)
    tmp = cache.with_name(cache.name + ".partial")
    model.save_pretrained(str(tmp))
    transformers.AutoTokenizer.from_pretrained(where, local_files_only=True, **extra).save_pretrained(str(tmp))
    tmp.rename(cache)
    return cache


def _load_fp32(where: str, extra: dict[str, str]) -> Any:
    """An fp32 model; from a GGUF file, de-quantised and freed of its gguf quantizer record, which
    makes transformers refuse to train or save it (the weights are plain fp32 by then)."""
    model: Any = transformers.AutoModelForCausalLM.from_pretrained(where, local_files_only=True,
                                                                   dtype=torch.float32, **extra)
    if extra.get("gguf_file"):
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model


def load_model(base: Base, config: TrainConfig) -> Any:
    """The base as a trainable causal LM: fp32 (lora, dpo) or 4-bit NF4 (qlora)."""
    if base.path.is_file():
        _need("gguf", "pip install gguf")
    where, extra = base.where
    if config.method != "qlora":
        return _load_fp32(where, extra)
    _need("bitsandbytes", QLORA_HINT)
    peft = _need("peft")
    if base.path.is_file():
        where, extra = str(fp32_copy(base, config.out_dir / "base-fp32")), {}
    compute = torch.bfloat16 if _on_cuda() else torch.float32
    quant = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                            bnb_4bit_compute_dtype=compute, bnb_4bit_use_double_quant=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        where, local_files_only=True, quantization_config=quant, dtype=compute,
        device_map="auto" if _on_cuda() else "cpu", **extra)
    return peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)


def lora_config(config: TrainConfig, model_type: str) -> Any:
    peft = _need("peft")
    return peft.LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                           target_modules=list(targets_for(model_type, config.targets)), task_type="CAUSAL_LM")


# -- data ---------------------------------------------------------------------------------------

def _dataset(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Any:
    datasets = _need("datasets")
    return datasets.Dataset.from_list([{c: r[c] for c in columns} for r in rows])


def load_data(config: TrainConfig) -> tuple[Any, Any | None]:
    """(train, validation) datasets: trl prompt/completion records (lora, qlora) or
    prompt/chosen/rejected pairs (dpo); validation capped at ``eval_max_records``."""
    read_card(config.data_dir)
    if config.method == "dpo":
        path = config.data_dir / "preferences.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: --method dpo needs preference pairs (feedback with "
                                    "corrected answers given to `ragqa finetune data --feedback FILE`)")
        rows = read_jsonl(path)
        cols: tuple[str, ...] = ("prompt", "chosen", "rejected")
        train = [r for r in rows if r["meta"]["split"] == "train"]
        valid = [r for r in rows if r["meta"]["split"] == "valid"]
    else:
        cols = ("prompt", "completion")
        train = read_jsonl(config.data_dir / "train.jsonl")
        vpath = config.data_dir / "valid.jsonl"
        valid = read_jsonl(vpath) if vpath.is_file() else []
    if not train:
        raise ValueError(f"no training records in {config.data_dir}: check the data card ({CARD_FILE}) for the "
                         "issues that skipped them")
    valid = random.Random(config.seed).sample(valid, min(config.eval_max_records, len(valid)))
    return _dataset(train, cols), (_dataset(valid, cols) if valid else None)


def record_tokens(row: dict[str, Any], tokenizer: Any) -> int:
    """Tokens of a record as the trainer sees it: the chat template over prompt + answer."""
    answer = row.get("completion") or row.get("chosen") or []
    ids = tokenizer.apply_chat_template(list(row["prompt"]) + list(answer), tokenize=True)
    return len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


def drop_long(ds: Any, tokenizer: Any, max_length: int) -> tuple[Any, int]:
    """``ds`` without the records longer than ``max_length`` tokens (trl would cut their answer
    off, training on a prompt with no target), and how many were dropped."""
    keep = [i for i, row in enumerate(ds) if record_tokens(row, tokenizer) <= max_length]
    if not keep:
        raise ValueError(f"every record is longer than max_length={max_length} tokens: raise --max-length "
                         "or build the data with fewer --distractors")
    return ds.select(keep), len(ds) - len(keep)


# -- trainer ------------------------------------------------------------------------------------

class _Throughput(TrainerCallback):
    """Adds ``tokens_per_s`` (training tokens since the last log / seconds) to every training log,
    before the progress bar and TensorBoard write it (so it must be the first callback)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.tokens = 0.0
        self.rates: list[float] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "num_tokens" not in logs or "loss" not in logs:
            return
        now = time.perf_counter()
        rate = (float(logs["num_tokens"]) - self.tokens) / max(now - self.t, 1e-9)
        logs["tokens_per_s"] = round(rate, 1)
        self.rates.append(rate)
        self.t, self.tokens = now, float(logs["num_tokens"])


class _StopOnSignal(TrainerCallback):
    """First SIGINT: save a checkpoint and stop after the current step; a second: KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, *_: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step with a checkpoint (Ctrl-C again to abort)", flush=True)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


@contextmanager
def _sigint(handler: Any) -> Iterator[None]:
    try:
        old = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: no signal handling
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _common_args(config: TrainConfig, has_eval: bool) -> dict[str, Any]:
    cuda = _on_cuda()
    report = ["tensorboard"] + (["wandb"] if config.wandb else [])
    return dict(
        output_dir=str(config.checkpoint_dir), per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, num_train_epochs=config.epochs, max_steps=config.max_steps,
        lr_scheduler_type="cosine", warmup_steps=config.warmup_ratio,
        logging_steps=min(config.logging_steps, config.max_steps) if config.max_steps > 0 else config.logging_steps,
        eval_strategy="steps" if has_eval else "no", eval_steps=config.eval_steps, save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=2, report_to=report, seed=config.seed,
        bf16=cuda and torch.cuda.is_bf16_supported(), fp16=False, use_cpu=not cuda,
        gradient_checkpointing=config.gradient_checkpointing, max_length=config.max_length,
        dataloader_num_workers=0, disable_tqdm=False)


def make_trainer(config: TrainConfig, base: Base, model: Any, tokenizer: Any, train: Any, valid: Any) -> Any:
    trl = _need("trl")
    common = _common_args(config, valid is not None)
    if config.method == "dpo":
        return _dpo_trainer(config, base, model, tokenizer, train, valid, common)
    args = trl.SFTConfig(**common, completion_only_loss=True, packing=False)
    return trl.SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=valid,
                          processing_class=tokenizer, peft_config=lora_config(config, model.config.model_type))


def _dpo_trainer(config: TrainConfig, base: Base, model: Any, tokenizer: Any, train: Any, valid: Any,
                 common: dict[str, Any]) -> Any:
    from rag_app.generators.adapters import check_compatible

    trl, peft = _need("trl"), _need("peft")
    assert config.sft_adapter is not None  # TrainConfig checks it
    check_compatible(config.sft_adapter, base.model_id, base.sha256)
    policy = peft.PeftModel.from_pretrained(model, str(config.sft_adapter), is_trainable=True)
    reference = peft.PeftModel.from_pretrained(load_model(base, config), str(config.sft_adapter),
                                               is_trainable=False).merge_and_unload()
    reference.eval()
    args = trl.DPOConfig(**common, beta=config.dpo_beta)
    return trl.DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=train, eval_dataset=valid,
                          processing_class=tokenizer)


def last_checkpoint(directory: Path) -> str | None:
    """The newest ``checkpoint-N`` with a trainer state (a half-written one is passed over)."""
    found = [p for p in directory.glob("checkpoint-*") if (p / "trainer_state.json").is_file()
             and p.name.split("-")[-1].isdigit()]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


# -- the recipe ---------------------------------------------------------------------------------

def train(config: TrainConfig) -> TrainResult:
    """Build data -> load base -> train -> evaluate -> save adapter + manifest in ``config.out_dir``."""
    _need("peft")
    _need("trl")
    if config.threads:
        torch.set_num_threads(config.threads)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(config.log_dir)
    torch.manual_seed(config.seed)

    train_ds, valid_ds = load_data(config)
    base = resolve_base(config.base)
    tokenizer = load_tokenizer(base)
    model = load_model(base, config)
    train_ds, dropped = drop_long(train_ds, tokenizer, config.max_length)
    if valid_ds is not None:
        valid_ds, _ = drop_long(valid_ds, tokenizer, config.max_length)
    trainer = make_trainer(config, base, model, tokenizer, train_ds, valid_ds)

    throughput, stop = _Throughput(), _StopOnSignal()
    trainer.callback_handler.callbacks.insert(0, throughput)
    trainer.add_callback(stop)
    t0 = time.perf_counter()
    with _sigint(stop.request):
        out = trainer.train(resume_from_checkpoint=last_checkpoint(config.checkpoint_dir))
    train_s = time.perf_counter() - t0

    metrics = _metrics(trainer, out, train_s, throughput)
    metrics["lora_targets"] = list(targets_for(model.config.model_type, config.targets))
    metrics["records_train"], metrics["records_valid"] = len(train_ds), len(valid_ds) if valid_ds else 0
    metrics["records_too_long"] = dropped
    if valid_ds is not None:
        metrics.update({k: v for k, v in trainer.evaluate().items() if k.startswith("eval_")})
    return save_adapter(config, base, trainer.model, metrics, interrupted=stop.requested)


def _metrics(trainer: Any, out: Any, train_s: float, throughput: _Throughput) -> dict[str, Any]:
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    tokens = max((float(h["num_tokens"]) for h in history if "num_tokens" in h), default=0.0)
    return {
        "steps": int(trainer.state.global_step), "train_loss": float(out.training_loss),
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "train_tokens": int(tokens), "train_s": round(train_s, 1),
        "tokens_per_s": round(tokens / train_s, 1) if train_s > 0 and tokens else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
    }


def save_adapter(config: TrainConfig, base: Base, model: Any, metrics: dict[str, Any], *,
                 interrupted: bool) -> TrainResult:
    """The adapter weights (peft) + ``ragqa_adapter.json`` in ``config.out_dir``."""
    model.save_pretrained(str(config.out_dir))
    manifest = write_training_manifest(
        config.out_dir, base_model_id=base.model_id, base_model_sha256=base.sha256, method=config.method,
        data_card_sha256=sha256_of(config.data_dir / CARD_FILE), hyperparameters=config.hyperparameters(),
        metrics=metrics, interrupted=interrupted)
    (config.out_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    return TrainResult(adapter_dir=config.out_dir, manifest_path=manifest, metrics=metrics, interrupted=interrupted)
