"""``ragqa finetune data`` and ``ragqa finetune train``: thin shells over ``rag_app.finetune``.
Nothing heavy is imported until a command runs (``ragqa finetune --help`` loads no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

finetune_app = typer.Typer(help="Fine-tune the local generator: build RAFT data, train LoRA / QLoRA / DPO "
                                "adapters.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _paths(values: list[Path] | None) -> tuple[Path, ...]:
    return tuple(values or ())


@finetune_app.command("data")
def data(
    out: Annotated[Path, typer.Option(help="Folder for train/valid JSONL, Alpaca JSON and the data card.")],
    qa: Annotated[list[Path] | None, typer.Option(
        help="Gold QA file: qa.jsonl (docs_corpus format) or SQuAD/JSQuAD JSON (repeatable). SQuAD "
             "paragraphs are ingested into --index as documents.")] = None,
    feedback: Annotated[list[Path] | None, typer.Option(
        help="Feedback JSONL from the Q&A page (repeatable): good answers -> targets, bad + corrected -> "
             "preference pairs.")] = None,
    index: Annotated[Path | None, typer.Option(
        help="Index the retriever searches for oracle and distractor chunks. Default: $RAGQA_INDEX or ./.ragqa",
        show_default=False)] = None,
    embedder: Annotated[str | None, typer.Option(help="Embedder of a new index (default: the configured one).")] = None,
    valid_share: Annotated[float, typer.Option(help="Share of documents/articles held out for validation.")] = 0.2,
    refusal_share: Annotated[float, typer.Option(help="Share of RAFT records without the oracle (target: refusal).")] = 0.2,
    distractors: Annotated[int, typer.Option(help="Distractor chunks per record beside the oracle.")] = 3,
    max_questions: Annotated[int | None, typer.Option(help="At most this many questions per QA file (seeded sample).")] = None,
    generate_questions: Annotated[int, typer.Option(help="Chunks to write a question for with --question-generator.")] = 0,
    question_generator: Annotated[str, typer.Option(help="Generator spec writing those questions, e.g. qwen-1.5b.")] = "",
    seed: int = 0,
) -> None:
    """Build fine-tuning data with the answer path's own prompt builder; prints the data card's counts."""
    from ingest.settings import load_index_settings

    from .config import DataConfig
    from .data import build_dataset

    try:
        index_dir = load_index_settings(None, index_dir=index).index_dir
        cfg = DataConfig(out_dir=out, index_dir=index_dir, embedder=embedder, qa_files=_paths(qa),
                         feedback_files=_paths(feedback), valid_share=valid_share, refusal_share=refusal_share,
                         distractors=distractors, max_questions=max_questions,
                         generate_questions=generate_questions, question_generator=question_generator,
                         seed=seed, progress=True)
        if not cfg.qa_files and not cfg.feedback_files and not cfg.generate_questions:
            raise ValueError("no source given: pass --qa FILE, --feedback FILE or --generate-questions N")
        built = build_dataset(cfg)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        raise _fail(str(e)) from None
    for issue in built.issues[:20]:
        typer.echo(f"skipped {issue}", err=True)
    if len(built.issues) > 20:
        typer.echo(f"... {len(built.issues) - 20} more skipped records: see {built.card_path}", err=True)
    typer.echo(json.dumps({"out": str(built.out_dir), "train": built.total("train"), "valid": built.total("valid"),
                           "skipped": len(built.issues), "card": str(built.card_path)}, ensure_ascii=False))


@finetune_app.command("train")
def train(
    data_dir: Annotated[Path, typer.Option("--data", help="Folder written by `ragqa finetune data`.")],
    out: Annotated[Path, typer.Option(help="Adapter folder (checkpoints/ and runs/ go below it). A rerun resumes.")],
    base: Annotated[str, typer.Option(help="Catalogue model (smollm2, ...), a .gguf file or a Hugging Face "
                                           "model directory.")] = "smollm2",
    method: Annotated[str, typer.Option(help="lora | qlora (4-bit NF4 base) | dpo (needs --sft-adapter).")] = "lora",
    rank: int = 16,
    alpha: int = 32,
    dropout: float = 0.05,
    targets: Annotated[str, typer.Option(help="Comma-separated LoRA target modules (default: per architecture).")] = "",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-4,
    epochs: float = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many optimizer steps (overrides --epochs).")] = -1,
    max_length: Annotated[int, typer.Option(help="Longest record in tokens; longer ones are left out.")] = 2048,
    batch_size: int = 1,
    grad_accum: int = 4,
    save_steps: int = 50,
    eval_steps: int = 50,
    eval_records: Annotated[int, typer.Option(help="Validation records scored for the eval loss.")] = 64,
    sft_adapter: Annotated[Path | None, typer.Option(help="dpo: the SFT adapter to continue.")] = None,
    beta: Annotated[float, typer.Option(help="dpo: KL strength.")] = 0.1,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    wandb: Annotated[bool, typer.Option(help="Also log to Weights & Biases (WANDB_MODE=offline works offline).")] = False,
    seed: int = 0,
) -> None:
    """Train an adapter; writes ragqa_adapter.json (base id + sha256, template version, data card hash,
    hyperparameters, metrics). Serve it with --generator "hf:BASE.gguf#adapter=OUT"."""
    from .config import TrainConfig

    try:
        cfg = TrainConfig(base=base, data_dir=data_dir, out_dir=out, method=method, rank=rank, alpha=alpha,
                          dropout=dropout, targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
                          learning_rate=lr, epochs=epochs, max_steps=max_steps, max_length=max_length,
                          batch_size=batch_size, grad_accum=grad_accum, save_steps=save_steps,
                          eval_steps=eval_steps, eval_max_records=eval_records, sft_adapter=sft_adapter, dpo_beta=beta, threads=threads,
                          wandb=wandb, seed=seed)
        from .train import train as run

        result = run(cfg)
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps({"adapter": str(result.adapter_dir), "interrupted": result.interrupted,
                           **{k: result.metrics.get(k) for k in ("steps", "train_loss", "eval_loss", "tokens_per_s",
                                                                 "train_s", "peak_rss_mb")}}))


@finetune_app.command("export-gguf")
def export_gguf(
    adapter: Annotated[Path, typer.Argument(help="Adapter folder from `ragqa finetune train`.")],
    base: Annotated[str, typer.Option(help="The base GGUF it was trained on: a catalogue name or a .gguf file.")] = "smollm2",
    dtype: Annotated[str, typer.Option(help="f16 | f32")] = "f16",
) -> None:
    """Write ADAPTER/adapter-lora.gguf for llama.cpp, then serve with --generator "smollm2#adapter=ADAPTER"
    (or "llama-cpp:BASE.gguf#adapter=ADAPTER")."""
    from rag_app.generators.adapters import check_compatible
    from rag_app.generators.errors import AdapterMismatchError
    from rag_app.generators.hf_local import base_identity
    from rag_app.models import ModelError, model_path

    from .gguf_lora import convert_adapter

    try:
        path = Path(base) if Path(base).is_file() else model_path(base)
        check_compatible(adapter, *base_identity(path))
        typer.echo(str(convert_adapter(adapter, path, dtype=dtype)))
    except (ValueError, FileNotFoundError, ImportError, ModelError, AdapterMismatchError) as e:
        raise _fail(str(e)) from None
