"""Typed settings of ``ragqa finetune``: what the data builder writes and how an adapter is trained.

Two frozen dataclasses, one per command (``DataConfig`` for ``ragqa finetune data``,
``TrainConfig`` for ``ragqa finetune train``), plus the per-architecture LoRA target modules.
Defaults are the ones measured on SmolLM2-135M on 2 CPU cores (BENCHMARKS.md, "Generator
fine-tuning (issue #11)").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("lora", "qlora", "dpo")

# LoRA target modules per transformers ``model_type``: every attention and MLP projection (peft's
# own default for llama/qwen2 is q_proj, v_proj only, which tunes far less of the model).
_DENSE_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TARGETS_BY_ARCHITECTURE: dict[str, tuple[str, ...]] = {
    "llama": _DENSE_TARGETS,
    "qwen2": _DENSE_TARGETS,
    "qwen3": _DENSE_TARGETS,
    "mistral": _DENSE_TARGETS,
    "gemma": _DENSE_TARGETS,
    "gemma2": _DENSE_TARGETS,
    "gemma3_text": _DENSE_TARGETS,
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
}


def targets_for(model_type: str, override: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The LoRA target modules for a model of ``model_type`` (``override`` wins when given)."""
    if override:
        return override
    try:
        return TARGETS_BY_ARCHITECTURE[model_type]
    except KeyError:
        raise ValueError(
            f"no LoRA target modules known for model_type {model_type!r}; known: "
            f"{', '.join(sorted(TARGETS_BY_ARCHITECTURE))}; pass them with --targets q_proj,v_proj,...") from None


@dataclass(frozen=True)
class DataConfig:
    """``ragqa finetune data``: sources -> RAFT / closed-book / preference records + a data card."""

    out_dir: Path
    index_dir: Path = Path(".ragqa")  # the index the real retriever searches for distractors
    embedder: str | None = None  # the index's embedder (None: the configured default, e5)
    ingest_corpus: bool = True  # ingest SQuAD-format paragraphs into the index (False: already there)
    qa_files: tuple[Path, ...] = ()  # qa.jsonl (docs_corpus format) or SQuAD-format JSON files
    feedback_files: tuple[Path, ...] = ()  # JSONL written by the Q&A page's feedback buttons
    valid_share: float = 0.2  # share of documents/articles held out (split by document, never by question)
    refusal_share: float = 0.2  # RAFT records whose oracle is left out; target = the refusal message
    distractors: int = 3  # distractor blocks per record (retriever hard negatives), beside the oracle
    max_context_tokens: int = 1500  # the answer path's default context budget (AnswerSettings)
    max_questions: int | None = None  # cap per source file after shuffling (bounded benchmark runs)
    generate_questions: int = 0  # chunks to write questions for with ``question_generator``
    question_generator: str = ""  # a generator spec (rag_app.generators.registry), e.g. qwen-1.5b
    closed_book: bool = True  # also write question -> answer records without context
    seed: int = 0
    progress: bool = False  # terminal progress bars (ingest and records)

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_share < 1.0:
            raise ValueError(f"valid_share={self.valid_share}; it must be in [0, 1): e.g. 0.2")
        if not 0.0 <= self.refusal_share < 1.0:
            raise ValueError(f"refusal_share={self.refusal_share}; it must be in [0, 1): e.g. 0.2")
        if self.distractors < 0:
            raise ValueError(f"distractors={self.distractors}; it must be >= 0")
        if self.generate_questions and not self.question_generator:
            raise ValueError("generate_questions > 0 needs question_generator, e.g. --question-generator qwen-1.5b")


@dataclass(frozen=True)
class TrainConfig:
    """``ragqa finetune train``: one adapter from one data directory."""

    base: str  # catalogue name (smollm2, qwen2.5-coder-0.5b-instruct...), a .gguf file or an HF model dir
    data_dir: Path  # what ``ragqa finetune data`` wrote (train.jsonl, valid.jsonl, preferences.jsonl)
    out_dir: Path  # the adapter; checkpoints/ and runs/ (TensorBoard) below it
    method: str = "lora"  # lora | qlora (4-bit NF4 base, bitsandbytes) | dpo (preference pairs on an SFT adapter)
    rank: int = 16  # LoRA r
    alpha: int = 32  # LoRA alpha: updates are scaled by alpha / rank
    dropout: float = 0.05
    targets: tuple[str, ...] = ()  # empty: TARGETS_BY_ARCHITECTURE for the base's model_type
    learning_rate: float = 2e-4  # LoRA rates are ~10x full fine-tuning's (trl's default is 2e-5)
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs (bounded runs)
    max_length: int = 2048  # tokens of prompt + completion; longer records are left out (SmolLM2: a Japanese system prompt alone is ~850)
    batch_size: int = 1
    grad_accum: int = 4  # effective batch = batch_size * grad_accum
    warmup_ratio: float = 0.05  # share of the steps with a linear warm-up
    eval_steps: int = 50  # optimizer steps between validation-loss evaluations
    save_steps: int = 50  # optimizer steps between resumable checkpoints
    logging_steps: int = 5
    eval_max_records: int = 64  # validation records scored for the eval loss (bounded on CPU)
    seed: int = 0
    wandb: bool = False  # also report to Weights & Biases (WANDB_MODE=offline works without network)
    sft_adapter: Path | None = None  # dpo: the SFT adapter it continues from
    dpo_beta: float = 0.1
    threads: int | None = None  # torch CPU threads (None: torch's default)
    gradient_checkpointing: bool = False  # saves memory, costs ~30% more compute
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the manifest as is

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; allowed: {', '.join(METHODS)}")
        if self.method == "dpo" and self.sft_adapter is None:
            raise ValueError("--method dpo trains on top of an SFT adapter: pass --sft-adapter DIR "
                             "(an adapter from `ragqa finetune train --method lora`)")
        for name in ("rank", "alpha", "batch_size", "grad_accum", "max_length", "eval_steps", "save_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}; it must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout}; it must be in [0, 1)")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate}; it must be > 0, e.g. 2e-4")

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoints"

    @property
    def log_dir(self) -> Path:
        return self.out_dir / "runs"

    def hyperparameters(self) -> dict[str, Any]:
        """JSON-ready settings recorded in the adapter manifest."""
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in d.items()}
