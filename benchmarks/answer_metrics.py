"""Answer-quality metrics of ``bench_answer.py``: they live in ``eval.metrics`` (the evaluation
harness and the benchmarks score answers with the same functions); re-exported here."""

from __future__ import annotations

from eval.metrics import (
    NO_GENERATION_REASONS,
    answer_lang,
    exact_match,
    f1,
    gold_in_answer,
    has_cjk,
    language_matches,
    normalize,
    normalize_en,
    normalize_ja,
    percentile,
    score_answer,
    scoring_lang,
    strip_citations,
    summarize_records,
)

__all__ = [
    "NO_GENERATION_REASONS",
    "answer_lang",
    "exact_match",
    "f1",
    "gold_in_answer",
    "has_cjk",
    "language_matches",
    "normalize",
    "normalize_en",
    "normalize_ja",
    "percentile",
    "score_answer",
    "scoring_lang",
    "strip_citations",
    "summarize_records",
]
