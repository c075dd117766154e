"""The CLI is a thin shell over the Python API: every option maps to an ``AnswerSettings`` field,
a filter or a call argument, with the API's defaults; its JSON is the typed objects' ``to_dict``."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ingest.settings import IndexSettings
from rag_app import RAG, Answer, AnswerSettings, Hit, RAGConfig
from rag_app.cli import app

ANSWER_FIELDS = {f.name for f in fields(AnswerSettings)}
RETRIEVAL_FIELDS = {"mode", "top_k", "depth", "dense_weight", "bm25_weight", "reranker", "synonyms", "period_weight", "row_weight", "name_weight"}
FILTER_OPTIONS = {"source", "file_type", "lang", "date_from", "date_to"}
# CLI parameters that are call arguments or index settings, not answer settings
CALL_OPTIONS = {"query", "question", "groups", "index", "config", "embedder", "json_out", "stream"}


def _command(name: str) -> Any:
    group: Any = typer.main.get_command(app)  # a click group (typer may vendor its own click)
    cmd = group.get_command(group.context_class(group), name)
    assert cmd is not None, name
    return cmd


@pytest.mark.parametrize("name", ["search", "ask", "chat"])
def test_every_option_maps_to_the_api_with_the_api_default(name: str) -> None:
    params = {p.name: p for p in _command(name).params}
    unknown = set(params) - ANSWER_FIELDS - FILTER_OPTIONS - CALL_OPTIONS
    assert unknown == set(), f"ragqa {name} options with no API counterpart: {unknown}"
    for pname, p in params.items():
        if pname in ANSWER_FIELDS:
            # None: the configured value, i.e. AnswerSettings' default unless ragqa.toml says otherwise
            assert p.default is None, f"ragqa {name} --{pname} has its own default {p.default!r}"


def test_ask_exposes_every_answer_setting_and_search_every_retrieval_setting() -> None:
    ask = {p.name for p in _command("ask").params}
    search = {p.name for p in _command("search").params}
    assert ask >= ANSWER_FIELDS, ANSWER_FIELDS - ask
    assert search >= RETRIEVAL_FIELDS, RETRIEVAL_FIELDS - search
    assert ask >= FILTER_OPTIONS and search >= FILTER_OPTIONS


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    docs = base / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "leave.md").write_text("# Leave\n\nEmployees receive 20 days of paid leave per year.",
                                          encoding="utf-8")
    (docs / "vpn.txt").write_text("Connect with WireGuard to vpn.kitsune.example on port 51820.", encoding="utf-8")
    idx = base / "idx"
    r = CliRunner().invoke(app, ["ingest", str(docs), "--index", str(idx), "--embedder", "hashing", "--json"])
    assert r.exit_code == 0, r.output
    return idx


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_search_honours_mode_and_filters(index: Path) -> None:
    for mode in ("bm25", "dense", "hybrid"):
        out = _json(["search", "paid leave", "--index", str(index), "--mode", mode, "--json"])
        assert out["retriever"] == mode and out["schema_version"] == 1
        hits = [Hit.from_dict(h) for h in out["hits"]]
        assert hits[0].chunk.source == "hr/leave.md"
        expected = RAG(RAGConfig(index=IndexSettings(index_dir=index, embedder="hashing"),
                                 answer=AnswerSettings(mode=mode))).search("paid leave")
        assert [h.chunk.id for h in hits] == [h.chunk.id for h in expected]
    out = _json(["search", "paid leave", "--index", str(index), "--file-type", "txt", "--json"])
    assert {h["chunk"]["source"] for h in out["hits"]} == {"vpn.txt"}


def test_ask_json_is_the_answers_to_dict(index: Path) -> None:
    out = _json(["ask", "How many days of paid leave per year?", "--index", str(index), "--generator",
                 "extractive", "--refusal-threshold", "0", "--max-unsupported", "off", "--top-k", "2", "--json"])
    ans = Answer.from_dict(out)
    assert not ans.refused and "20 days" in ans.text
    assert ans.settings["answer"]["max_unsupported"] is None and ans.settings["answer"]["top_k"] == 2
    out = _json(["ask", "How many days of paid leave per year?", "--index", str(index), "--generator",
                 "extractive", "--source", "vpn.txt", "--json"])
    assert all(c["chunk"]["source"] == "vpn.txt" for c in out["retrieved"])


def test_a_refusal_says_why_in_words(index: Path) -> None:
    r = CliRunner().invoke(app, ["ask", "What is Globex's paid leave policy?", "--index", str(index),
                                 "--generator", "extractive", "--refusal-threshold", "0"])
    assert r.exit_code == 0, r.output
    assert "why: The question asks about something the documents never mention: no passage found names Globex" \
        in r.stdout
    assert "closest passages found:" in r.stdout


def test_status_json(index: Path) -> None:
    out = _json(["status", "--index", str(index), "--json"])
    assert out["exists"] and out["documents"] == 2 and out["embedder_id"] == "ragqa/hashing-ngram-v1"


def test_bad_values_fail_with_the_fix(index: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["search", "x", "--index", str(index), "--mode", "fuzzy"])
    assert r.exit_code == 2 and "unknown retrieval mode 'fuzzy'; allowed: dense, bm25, hybrid" in r.output
    r = CliRunner().invoke(app, ["ask", "x", "--index", str(index), "--date-from", "yesterday"])
    assert r.exit_code == 2 and "invalid date_from 'yesterday'" in r.output
    r = CliRunner().invoke(app, ["status", "--index", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "ragqa ingest PATH" in r.output


def test_documents_and_remove(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "a.md").write_text("---\ngroups: [hr]\n---\n# A\n\nSalary bands are reviewed yearly.",
                                      encoding="utf-8")
    (docs / "b.md").write_text("# B\n\nThe office opens at nine.", encoding="utf-8")
    idx = str(tmp_path / "idx")
    assert CliRunner().invoke(app, ["ingest", str(docs), "--index", idx, "--embedder", "hashing"]).exit_code == 0
    everything = _json(["documents", "--index", idx, "--json"])["documents"]
    assert {d["source"] for d in everything} == {"hr/a.md", "b.md"}
    public = _json(["documents", "--index", idx, "--groups", "", "--json"])["documents"]
    assert [d["source"] for d in public] == ["b.md"]
    r = CliRunner().invoke(app, ["remove", public[0]["doc_id"], "--index", idx])
    assert r.exit_code == 0, r.output
    assert [d["source"] for d in _json(["documents", "--index", idx, "--json"])["documents"]] == ["hr/a.md"]
    bad = CliRunner().invoke(app, ["remove", "nope", "--index", idx])
    assert bad.exit_code == 2 and "unknown document ids ['nope']" in bad.output
