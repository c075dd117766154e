"""ragas 0.4 metrics over stored answers: the ones that need no LLM run offline by default; the
LLM-judged ones only with a configured judge (``eval.judge``).

ragas is imported here only, with ``RAGAS_DO_NOT_TRACK=true`` set first (its telemetry thread
posts usage at import otherwise). Offline metrics: ID-based context precision / recall (on the
dataset's gold chunk ids, else on document ids: the contexts' sources against the gold source),
string similarity (rapidfuzz), ChrF (character n-grams: meaningful on Japanese, unlike ragas's
ROUGE / BLEU, which are not used), exact match and string presence. Responses are scored without
their ``[n]`` citation markers, against the first gold answer.

A metric is computed only where it applies (e.g. no context metric for a closed-book system, no
reference metric without a gold answer, no faithfulness for a refusal); elsewhere it is None.
A judged metric that fails on a row (judge error, unparsable verdict) is NaN in ragas: it is
stored as None and counted in ``failures``, and the run goes on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag_app.types import Answer

from .dataset import Question
from .metrics import strip_citations

RAGAS_HINT = "pip install 'ragqa[eval]'  (ragas==0.4.3 with langchain-community==0.4.1)"
OFFLINE_METRICS = ("ragas_id_context_precision", "ragas_id_context_recall", "ragas_string_similarity",
                   "ragas_chrf", "ragas_exact_match", "ragas_string_presence")
LLM_METRICS = ("ragas_faithfulness", "ragas_response_relevancy", "ragas_factual_correctness",
               "ragas_llm_context_precision", "ragas_llm_context_recall")
ALL_METRICS = OFFLINE_METRICS + LLM_METRICS


@dataclass(frozen=True, slots=True)
class RagasRow:
    """One (question, answer) in ragas's single-turn fields."""

    user_input: str
    response: str
    refused: bool
    reference: str | None
    retrieved_contexts: tuple[str, ...] | None  # None: the system does not retrieve
    retrieved_context_ids: tuple[str, ...] | None
    reference_context_ids: tuple[str, ...]


def ragas_row(q: Question, a: Answer, retrieves: bool) -> RagasRow:
    by_chunk = bool(q.gold_chunk_ids)
    ids = tuple((h.chunk.id if by_chunk else h.chunk.source) for h in a.contexts)
    return RagasRow(user_input=q.text, response=strip_citations(a.text), refused=a.refused,
                    reference=q.golds[0] if q.golds else None,
                    retrieved_contexts=tuple(h.chunk.text for h in a.contexts) if retrieves else None,
                    retrieved_context_ids=ids if retrieves else None,
                    reference_context_ids=q.gold_chunk_ids if by_chunk else q.gold_sources)


def _applies(metric: str, r: RagasRow) -> bool:
    has_ref, has_ctx = r.reference is not None, r.retrieved_contexts is not None
    if metric == "ragas_id_context_precision":  # a share of the retrieved ids: none retrieved, no share
        return bool(r.retrieved_context_ids) and bool(r.reference_context_ids)
    if metric == "ragas_id_context_recall":
        return r.retrieved_context_ids is not None and bool(r.reference_context_ids)
    if metric in ("ragas_string_similarity", "ragas_chrf", "ragas_exact_match", "ragas_string_presence",
                  "ragas_factual_correctness"):
        return has_ref and not (metric == "ragas_factual_correctness" and r.refused)
    if metric == "ragas_faithfulness":
        return has_ctx and not r.refused and bool(r.retrieved_contexts)
    if metric == "ragas_response_relevancy":
        return not r.refused
    if metric in ("ragas_llm_context_precision", "ragas_llm_context_recall"):
        return has_ref and has_ctx and bool(r.retrieved_contexts)
    raise ValueError(f"unknown ragas metric {metric!r}; allowed: {', '.join(ALL_METRICS)}")


def check_metrics(metrics: Sequence[str], has_judge: bool) -> None:
    """Unknown names, and LLM metrics without a judge, fail before anything runs."""
    bad = [m for m in metrics if m not in ALL_METRICS]
    if bad:
        raise ValueError(f"unknown ragas metrics {bad}; allowed: {', '.join(ALL_METRICS)}")
    judged = [m for m in metrics if m in LLM_METRICS]
    if judged and not has_judge:
        raise ValueError(f"{', '.join(judged)} need an LLM judge and none is configured (ragas would silently "
                         "call OpenAI): pass --judge openai-compatible:MODEL@http://127.0.0.1:PORT/v1 "
                         "(or openai:MODEL / anthropic:MODEL), or leave them out of --metrics")


def import_ragas() -> Any:
    """``ragas``, with telemetry off; the install command when it is missing."""
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ragas
    except ImportError as e:
        raise ImportError(f"the ragas metrics need ragas ({e}): {RAGAS_HINT}") from e
    return ragas


def _metric(name: str) -> Any:
    import_ragas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ragas import metrics as m

        classes: dict[str, Callable[..., Any]] = {
            "ragas_id_context_precision": m.IDBasedContextPrecision,
            "ragas_id_context_recall": m.IDBasedContextRecall,
            "ragas_string_similarity": m.NonLLMStringSimilarity,
            "ragas_chrf": m.ChrfScore,
            "ragas_exact_match": m.ExactMatch,
            "ragas_string_presence": m.StringPresence,
            "ragas_faithfulness": m.Faithfulness,
            "ragas_response_relevancy": m.ResponseRelevancy,
            "ragas_factual_correctness": m.FactualCorrectness,
            "ragas_llm_context_precision": m.LLMContextPrecisionWithReference,
            "ragas_llm_context_recall": m.LLMContextRecall,
        }
        return classes[name](name=name)


def _sample(r: RagasRow) -> dict[str, Any]:
    d: dict[str, Any] = {"user_input": r.user_input, "response": r.response}
    if r.reference is not None:
        d["reference"] = r.reference
    if r.retrieved_contexts is not None:
        d["retrieved_contexts"] = list(r.retrieved_contexts)
        d["retrieved_context_ids"] = list(r.retrieved_context_ids or ())
    if r.reference_context_ids:
        d["reference_context_ids"] = list(r.reference_context_ids)
    return d


class _Captured(logging.Handler):
    """Keeps ragas's per-job error messages instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_ragas() -> Iterator[_Captured]:
    log = logging.getLogger("ragas")
    handler = _Captured()
    old = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield handler
    finally:
        log.removeHandler(handler)
        log.propagate = old


@dataclass(frozen=True, slots=True)
class ScoredRows:
    """Per row: metric -> value (None: does not apply, or failed); per row: metric -> failure message."""

    scores: list[dict[str, float | None]]
    failures: list[dict[str, str]]


def score_rows(rows: Sequence[RagasRow], metrics: Sequence[str], *, llm: Any = None,
               embeddings: Any = None) -> ScoredRows:
    """Run each metric with ``ragas.evaluate`` over the rows it applies to."""
    ragas = import_ragas()
    scores: list[dict[str, float | None]] = [dict.fromkeys(metrics) for _ in rows]
    failures: list[dict[str, str]] = [{} for _ in rows]
    for name in metrics:
        idx = [i for i, r in enumerate(rows) if _applies(name, r)]
        if not idx:
            continue
        with _quiet_ragas() as captured:
            dataset = ragas.EvaluationDataset.from_list([_sample(rows[i]) for i in idx])
            result = ragas.evaluate(dataset, metrics=[_metric(name)], llm=llm, embeddings=embeddings,
                                    raise_exceptions=False, show_progress=False)
        values = [row.get(name) for row in result.scores]
        why = captured.messages[-1] if captured.messages else "the metric returned no score"
        for i, v in zip(idx, values, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                failures[i][name] = why
            else:
                scores[i][name] = float(v)
    return ScoredRows(scores, failures)
