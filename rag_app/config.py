"""Answering settings: one typed object over the index settings.

``ragqa.toml`` (optional) has an ``[index]`` table (see ``ingest.settings``) and an ``[answer]``
table with the fields below; ``RAGQA_*`` environment variables override both; CLI flags and
keyword arguments override everything. API keys come from the environment only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ingest.settings import IndexSettings, load_index_settings, read_config_file

# Relevance floor per retrieval mode, on the best *dense* cosine among the hits (bm25 mode: the
# best BM25 score). Below it ragqa refuses without calling a generator. E5 cosines sit in a
# narrow band (0.75-0.9), so these come from calibration on docs_corpus/qa.jsonl
# (`ragqa calibrate`, which fits them for your own corpus and stores them in the index per
# embedder; benchmarks/bench_refusal.py prints the trade-off), not intuition. The dense values
# hold only for the embedder they were fitted with: another embedder's cosines live on another
# scale, so without a calibration of its own the relevance gate abstains there.
DEFAULT_REFUSAL_THRESHOLDS: dict[str, float] = {"dense": 0.80, "hybrid": 0.80, "bm25": 2.0}
DEFAULT_THRESHOLD_EMBEDDER = "intfloat/multilingual-e5-small"  # model_id of the "e5" / "e5-torch" embedders


def default_refusal_threshold(mode: str, embedder_id: str | None) -> float | None:
    """The built-in relevance floor for ``mode`` over an index built by ``embedder_id``; None when
    none applies (a dense or hybrid index of another embedder: calibrate it)."""
    if mode == "bm25":
        return DEFAULT_REFUSAL_THRESHOLDS["bm25"]
    return DEFAULT_REFUSAL_THRESHOLDS[mode] if embedder_id == DEFAULT_THRESHOLD_EMBEDDER else None


def refusal_threshold_key(mode: str, embedder_id: str) -> str:
    """Catalog meta key of a calibrated threshold: per mode and per embedder, so re-embedding the
    index (``ragqa train-retriever``, ``--reindex --embedder``) leaves no stale threshold in force."""
    return f"refusal_threshold:{mode}:{embedder_id}"


@dataclass(frozen=True)
class AnswerSettings:
    mode: str = "hybrid"  # RAGQA_MODE: dense | bm25 | hybrid
    top_k: int = 5  # context blocks given to the generator
    depth: int = 50  # candidates per retriever before fusion
    dense_weight: float = 1.0  # RRF weight of the dense list
    bm25_weight: float = 1.0  # RRF weight of the BM25 list
    reranker: str | None = None  # RAGQA_RERANKER: a local CrossEncoder directory
    # synonym groups for the BM25 query and the support gate: "finance" (built in), "off", or a
    # JSON file of groups (retrieval/synonyms.py)
    synonyms: str = "finance"
    # RRF weight of the list of candidates whose document is of the question's years (hybrid;
    # retrieval/periods.py); 0 turns it off. Measured on FinanceBench: BENCHMARKS.md "Real filings"
    period_weight: float = 1.0
    # RRF weight of the list of candidates holding a table row that names the question's line item
    # (a synonym group's phrase) in the asked years (hybrid; retrieval/line_items.py); 0 turns it off
    row_weight: float = 1.0
    # RRF weight of the list of candidates whose document context (title, issuer, file name) knows
    # a name the question asks about ("Boeing's", "Has Verizon ..."; hybrid; retrieval/names.py)
    name_weight: float = 1.0
    generator: str = "auto"  # RAGQA_GENERATOR: auto | extractive | smollm2 | openai:MODEL | anthropic:MODEL ...
    refusal_threshold: float | None = None  # None: the index's calibrated value, else the default above
    # refuse when more than this share of the question's idf-weighted terms is in no retrieved
    # chunk of its language or bridged by the dictionary below (rag_app/answerability.py; fitted by
    # benchmarks/bench_refusal.py on SQuAD/JSQuAD near misses); None: off
    max_unsupported: float | None = 0.45
    # the Japanese-English dictionary through which that gate counts chunks in the question's other
    # language as support (retrieval/dictionary.py): "jmdict" (built in) or "off"
    dictionary: str = "jmdict"
    max_context_tokens: int = 1500  # budget for context blocks in the prompt
    max_tokens: int = 384  # longest answer a generator may write
    temperature: float = 0.0
    injection_defence: bool = True  # neutralise planted instructions; block answers that obey them
    rewrite_follow_ups: bool = True  # use the chat history to make follow-up questions self-contained


# the settings that choose the retriever (the rest act after retrieval)
RETRIEVAL_SETTINGS = ("mode", "depth", "dense_weight", "bm25_weight", "reranker", "synonyms", "period_weight",
                      "row_weight", "name_weight")

_ENV = {"mode": "RAGQA_MODE", "generator": "RAGQA_GENERATOR", "reranker": "RAGQA_RERANKER", "top_k": "RAGQA_TOP_K"}


@dataclass(frozen=True)
class RAGConfig:
    index: IndexSettings = field(default_factory=IndexSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)


def _coerce(name: str, raw: Any) -> Any:
    t = {f.name: str(f.type) for f in fields(AnswerSettings)}[name]
    try:
        if t == "int":
            return int(raw)
        if t in ("float", "float | None"):
            return None if raw in (None, "") else float(raw)
        if t == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError):
        raise ValueError(f"answer setting {name} has a bad value {raw!r} (expected {t})") from None
    return None if raw in (None, "") else str(raw)


def load_config(config_file: Path | None = None, *, index_dir: Path | str | None = None,
                embedder: str | None = None, **answer_overrides: Any) -> RAGConfig:
    index = load_index_settings(config_file, index_dir=index_dir, embedder=embedder)
    data = read_config_file(config_file).get("answer", {})
    known = {f.name for f in fields(AnswerSettings)}
    bad = sorted(set(data) - known) + sorted(k for k in answer_overrides if k not in known)
    if bad:
        raise ValueError(f"unknown answer settings {bad}; allowed: {sorted(known)}")
    values = {k: _coerce(k, v) for k, v in data.items()}
    for name, env in _ENV.items():
        if env in os.environ:
            values[name] = _coerce(name, os.environ[env])
    # overrides are coerced like file values: "" turns an optional setting off (max_unsupported)
    values.update({k: _coerce(k, v) for k, v in answer_overrides.items() if v is not None})
    answer = replace(AnswerSettings(), **values)
    if answer.mode not in ("dense", "bm25", "hybrid"):
        raise ValueError(f"unknown retrieval mode {answer.mode!r}; allowed: dense, bm25, hybrid")
    return RAGConfig(index=index, answer=answer)
