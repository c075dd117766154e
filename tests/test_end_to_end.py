"""The README's path on the real thing: docs_corpus/ ingested with the bundled E5 model, offline,
then searched and asked through the CLI and the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rag_app import RAG, Answer, Hit
from retrieval.factory import make_retriever
from retrieval.index import IndexReader

REPO = Path(__file__).resolve().parents[1]
QA = [json.loads(line) for line in (REPO / "docs_corpus" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
      if line.strip()]


def cli(*args: str, index: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAGQA_INDEX": str(index), "HF_HUB_OFFLINE": "1"}
    env.pop("RAGQA_EMBEDDER", None)
    p = subprocess.run([sys.executable, "-m", "rag_app.cli", *args], env=env, capture_output=True, text=True,
                       timeout=900, cwd=REPO)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_ingest_is_complete_and_incremental(corpus_index: Path) -> None:
    st = json.loads(cli("status", "--json", index=corpus_index).stdout)
    assert st["embedder_id"] == "intfloat/multilingual-e5-small" and st["dim"] == 384
    assert st["documents"] >= 30 and st["chunks"] > st["documents"]
    again = json.loads(cli("ingest", "docs_corpus", "--json", index=corpus_index).stdout)
    assert again["files_indexed"] == 0 and again["files_unchanged"] == st["documents"]
    assert again["files_failed"] == []


def _rank_of(hits: list[Any], source: str) -> int | None:
    for i, h in enumerate(hits, 1):
        if h.chunk.source == source:
            return i
    return None


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_japanese_question_finds_its_page(corpus_index: Path, mode: str) -> None:
    r = make_retriever(IndexReader(_settings(corpus_index)), mode)
    hits = r.retrieve("入社6か月後に付与される年次有給休暇は何日ですか？", top_k=5)
    assert hits[0].chunk.source == "hr/leave_policy_ja.pdf"
    assert hits[0].chunk.page == 1


def test_cross_language_questions_find_documents_in_the_other_language(corpus_index: Path) -> None:
    """English questions about Japanese documents and vice versa (qa.jsonl's cross_lingual rows):
    hybrid's per-language dense lists and cross-language credit must beat plain dense."""
    reader = IndexReader(_settings(corpus_index))
    rows = [q for q in QA if q.get("cross_lingual") and q["answerable"]]
    assert len(rows) >= 10
    recall = {}
    for mode in ("dense", "hybrid"):
        r = make_retriever(reader, mode)
        recall[mode] = sum(_rank_of(r.retrieve(q["question"], top_k=5, groups=q["groups"]), q["source"]) is not None
                           for q in rows) / len(rows)
    assert recall["hybrid"] >= 0.6 and recall["hybrid"] > recall["dense"], recall


def test_restricted_document_needs_its_group(corpus_index: Path) -> None:
    reader = IndexReader(_settings(corpus_index))
    for mode in ("dense", "bm25", "hybrid"):
        r = make_retriever(reader, mode)
        public = r.retrieve("salary band midpoint for grade E3", top_k=20)
        assert all(h.chunk.source != "hr/salary_bands.xlsx" for h in public)
        hr = r.retrieve("salary band midpoint for grade E3", top_k=5, groups=["hr"])
        assert _rank_of(hr, "hr/salary_bands.xlsx") is not None, mode


def test_hybrid_recall_on_the_corpus_questions(corpus_index: Path) -> None:
    """Measured, not assumed: hybrid finds the source of most answerable qa.jsonl questions."""
    reader = IndexReader(_settings(corpus_index))
    found = {m: 0 for m in ("dense", "bm25", "hybrid")}
    rows = [q for q in QA if q["answerable"]]
    for q in rows:
        for m in found:
            hits = make_retriever(reader, m).retrieve(q["question"], top_k=5, groups=q["groups"])
            found[m] += _rank_of(hits, q["source"]) is not None
    recall = {m: n / len(rows) for m, n in found.items()}
    assert recall["hybrid"] >= 0.9, recall
    assert recall["hybrid"] > max(recall["dense"], recall["bm25"]), recall


def test_cli_search_json_contract(corpus_index: Path) -> None:
    out = json.loads(cli("search", "VPN の接続手順", "--json", "--top-k", "3", index=corpus_index).stdout)
    assert len(out["hits"]) == 3 and out["schema_version"] == 1
    for h in out["hits"]:  # Hit.to_dict: the chunk (id, source, page, heading path, text) and scores
        assert set(h) >= {"chunk", "score", "retriever", "rank"}
        assert set(h["chunk"]) >= {"id", "source", "page", "heading_path", "text"}
        assert Hit.from_dict(h).to_dict() == h
    bad = cli("search", "x", "--mode", "fuzzy", index=corpus_index, check=False)
    assert bad.returncode == 2 and "unknown retrieval mode 'fuzzy'" in bad.stderr


def test_ask_gives_a_cited_answer_and_refuses_the_unanswerable(corpus_index: Path) -> None:
    rag = RAG.from_config(index_dir=corpus_index, generator="extractive")
    ans = rag.ask("入社6か月後に付与される年次有給休暇は何日ですか？")
    assert not ans.refused and ans.citations
    assert ans.citations[0].source == "hr/leave_policy_ja.pdf"
    assert "10日" in ans.text


@pytest.mark.xfail(strict=True, reason="issue #4 target not met, blocked on an answerability model (none runs "
                   "offline): the lexical-support gate refuses 11 of the 13 unanswerable docs_corpus/qa.jsonl "
                   "questions; the other two (Linux laptop, Starter ticket limit) share every term with the corpus "
                   "or nearly (benchmarks/bench_refusal.py, BENCHMARKS.md)")
def test_every_unanswerable_corpus_question_is_refused(corpus_index: Path) -> None:
    rag = RAG.from_config(index_dir=corpus_index, generator="extractive")
    unanswerable = [q for q in QA if not q["answerable"]]
    refused = sum(rag.ask(q["question"]).refused for q in unanswerable)
    assert refused == len(unanswerable), f"{refused}/{len(unanswerable)} unanswerable questions refused"


@pytest.mark.slow  # asks all 119 qa.jsonl questions
def test_refusal_operating_point_holds(corpus_index: Path) -> None:
    """The measured trade-off (BENCHMARKS.md "Cross-language support") must not regress: at least
    11 of the 13 unanswerable questions refused, at most 10 % of the 106 answerable ones refused
    (9 measured, 8.5 %: the issue's target), and at least 0.70 of them answered correctly with a
    citation of the gold document (0.717 measured). Without the Japanese-English dictionary the
    same gates refused 21 (19.8 %): the questions asked in the other language than their
    document's."""
    from eval.metrics import gold_in_answer

    rag = RAG.from_config(index_dir=corpus_index, generator="extractive")
    answers = [(q, rag.ask(q["question"], groups=q["groups"] or None)) for q in QA]
    unans = [a.refused for q, a in answers if not q["answerable"]]
    false = [a.refused for q, a in answers if q["answerable"]]
    supported = [not a.refused and gold_in_answer(a.text, q["answer"], q["lang"]) > 0
                 and any(c.source == q["source"] for c in a.citations) for q, a in answers if q["answerable"]]
    assert sum(unans) >= 11, f"{sum(unans)}/{len(unans)} unanswerable questions refused (need ≥ 11)"
    assert sum(false) / len(false) <= 0.10, f"{sum(false)}/{len(false)} answerable questions refused (limit 10 %)"
    assert sum(supported) / len(supported) >= 0.70, \
        f"{sum(supported)}/{len(supported)} answerable questions answered correctly and cited (need ≥ 0.70)"


def test_cli_ask_json_contract(corpus_index: Path) -> None:
    out = json.loads(cli("ask", "What is the monthly uptime commitment in the SLA?", "--json",
                         "--generator", "extractive", index=corpus_index).stdout)
    assert set(out) >= {"schema_version", "text", "refused", "generator", "citations", "contexts", "timings"}
    assert out["generator"] == "extractive"
    for c in out["citations"]:
        assert set(c) >= {"n", "chunk_id", "source", "page"}
    assert Answer.from_dict(out).to_dict() == out  # Answer.to_dict, the Python API's shape


def _settings(index: Path) -> Any:
    from ingest.settings import IndexSettings

    return IndexSettings(index_dir=index)
