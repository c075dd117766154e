"""The public Python API (``rag_app``): custom retrievers, typed relevance, the prompt as data,
JSON round trips, thread safety, one shared index for many configurations, status and ingest.

Real index (real Chroma, real BM25, the hashing embedder) unless a test is about a custom part.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rag_app
from ingest.settings import IndexSettings
from ingest.types import Chunk
from rag_app import (
    PROMPT_TEMPLATE_VERSION,
    RAG,
    Answer,
    AnswerSettings,
    Filters,
    GenerationResult,
    Hit,
    Message,
    RAGConfig,
    StreamEvent,
    build_prompt,
    shared_index,
)
from rag_app.config import refusal_threshold_key
from rag_app.generators.extractive import ExtractiveGenerator
from rag_app.prompting import parse_context_blocks, parse_question

DOCS = {
    "leave.md": "# Leave\n\nEmployees receive 20 days of paid leave per year. Unused days carry over up to 10 days.",
    "vpn.md": "# VPN\n\nConnect with WireGuard to vpn.kitsune.example on port 51820. Rotate keys every 90 days.",
    "kyuka.md": "# 休暇\n\n年次有給休暇は入社6か月後に10日付与される。繰越しは最大20日まで。",
    "salary.md": "---\ngroups: [hr]\n---\n# Salary bands\n\nGrade E3 midpoint is 9,000,000 yen.",
}


def _write_docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("api")
    idx = base / "idx"
    report = RAG(RAGConfig(index=IndexSettings(index_dir=idx, embedder="hashing"))).ingest(
        [_write_docs(base / "docs", DOCS)])
    assert report.files_failed == []
    return idx


def _rag(index: Path, **answer: object) -> RAG:
    a = replace(AnswerSettings(generator="extractive", top_k=3), **answer)  # type: ignore[arg-type]
    return RAG(RAGConfig(index=IndexSettings(index_dir=index, embedder="hashing"), answer=a))


def _chunk(i: int, text: str, source: str = "notes/a.md") -> Chunk:
    return Chunk(id=f"c{i}", doc_id="d1", text=text, source=source, start=0, end=len(text), ordinal=i)


@dataclass
class ListRetriever:
    """A retriever that is not ragqa's own: fixed chunks, no relevance signal unless given."""

    chunks: Sequence[Chunk]
    dense: float | None = None
    name: str = "mine"
    calls: list[str] = field(default_factory=list)

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        self.calls.append(query)
        return [Hit(chunk=c, score=1.0 / (i + 1), retriever=self.name, rank=i + 1, dense_score=self.dense)
                for i, c in enumerate(self.chunks[:top_k])]


# -- custom retrievers and the typed relevance signal ------------------------------------------------
def test_a_custom_retriever_without_a_relevance_signal_is_answered_not_refused(tmp_path: Path) -> None:
    chunks = [_chunk(1, "The cafeteria opens at 8:30 every weekday morning."),
              _chunk(2, "Parking is on level B2.", "notes/b.md")]
    rag = RAG(RAGConfig(index=IndexSettings(index_dir=tmp_path / "no-index")),
              retriever=ListRetriever(chunks), generator=ExtractiveGenerator())
    ans = rag.ask("When does the cafeteria open?")
    assert not ans.refused, ans.refusal_reason
    assert "8:30" in ans.text and [c.chunk_id for c in ans.citations] == ["c1"]
    assert not (tmp_path / "no-index").exists()  # no index was opened or created for it


def test_a_custom_retriever_with_a_low_signal_is_refused_by_the_configured_floor(tmp_path: Path) -> None:
    rag = RAG(RAGConfig(index=IndexSettings(index_dir=tmp_path / "x"), answer=AnswerSettings(refusal_threshold=0.5)),
              retriever=ListRetriever([_chunk(1, "The cafeteria opens at 8:30 every weekday.")], dense=0.2),
              generator=ExtractiveGenerator())
    ans = rag.ask("When does the cafeteria open?")
    assert ans.refused and ans.refusal_reason == "low_relevance:0.2000<0.5000"
    assert ans.generator == "none" and ans.raw_output is None


def test_ragqa_retrievers_carry_typed_signals(index: Path) -> None:
    rag = _rag(index)
    hits = rag.search("paid leave per year")
    assert hits and all(h.dense_score is not None for h in hits)
    assert any(h.bm25_score is not None for h in hits)
    bm25 = rag.with_settings(mode="bm25").search("paid leave")
    assert bm25 and all(h.bm25_score is not None and h.dense_score is None for h in bm25)


# -- the prompt as data ---------------------------------------------------------------------------
def _hit(i: int, text: str) -> Hit:
    return Hit(chunk=_chunk(i, text, f"docs/{i}.md"), score=1.0, retriever="t", rank=i)


TRICKY = st.text(alphabet=st.sampled_from(list("ab <>/|&;\"'=\n日本語context question lt amp")), max_size=60)


@settings(max_examples=80, deadline=None)
@given(texts=st.lists(TRICKY.filter(str.strip), min_size=1, max_size=4), question=TRICKY.filter(str.strip))
def test_prompt_round_trip_text_and_data_agree(texts: list[str], question: str) -> None:
    prompt = build_prompt(question, [_hit(i + 1, t) for i, t in enumerate(texts)], "en")
    user = prompt.messages[-1].content
    assert tuple(parse_context_blocks(user)) == prompt.blocks
    assert parse_question(user) == prompt.question == question.strip()
    assert prompt.template_version == PROMPT_TEMPLATE_VERSION


def test_extractive_reads_the_prompt_as_data_and_as_text_alike() -> None:
    hits = [_hit(1, "Employees receive 20 days of paid leave per year."), _hit(2, "VPN uses port 51820.")]
    prompt = build_prompt("How many days of paid leave per year?", hits, "en")
    gen = ExtractiveGenerator()
    assert gen.generate_prompt(prompt).text == gen.generate(prompt.messages).text
    assert "[1]" in gen.generate_prompt(prompt).text
    assert isinstance(gen, rag_app.ContextGenerator)


def test_a_changed_template_cannot_break_the_extractive_answer_path(index: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """RAG hands the extractive generator the prompt as data: relabelling the question line in
    the template (which the text parser relies on) leaves its answers as they were."""
    from rag_app import prompting

    before = _rag(index).ask("How many days of paid leave per year?")
    monkeypatch.setattr(prompting, "QUESTION_LABEL", "Q >>")
    after = _rag(index).ask("How many days of paid leave per year?")
    assert "Q >> How many" in after.prompt[-1].content
    assert after.text == before.text and "20 days" in after.text


# -- JSON round trips ---------------------------------------------------------------------------
def test_answer_round_trips_through_json(index: Path) -> None:
    ans = _rag(index).ask("How many days of paid leave per year?")
    data = json.loads(json.dumps(ans.to_dict(), ensure_ascii=False))
    assert data["schema_version"] == rag_app.ANSWER_SCHEMA_VERSION
    back = Answer.from_dict(data)
    assert back == ans
    with pytest.raises(ValueError, match=r"answer schema_version 99 is not 1"):
        Answer.from_dict({**data, "schema_version": 99})


def test_hit_and_filters_round_trip() -> None:
    h = Hit(chunk=replace(_chunk(3, "x"), heading_path=("A", "B"), groups=("hr",)), score=0.5, retriever="bm25",
            rank=2, details={"bm25_rank": 2}, bm25_score=3.1)
    assert Hit.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    f = Filters(source_prefix="hr/", file_types=("pdf",), langs=("ja",), date_from="2026-01-01")
    assert Filters.from_dict(json.loads(json.dumps(f.to_dict()))) == f


# -- the trace on Answer ------------------------------------------------------------------------
def test_answer_trace_holds_prompt_raw_output_settings_and_consistent_contexts(index: Path) -> None:
    @dataclass
    class Dangling:
        name: str = "dangling"

        def generate(self, messages: Sequence[Message], *, max_tokens: int = 512,
                     temperature: float = 0.0) -> GenerationResult:
            return GenerationResult(text="Twenty days [1]. See [9].", model=self.name)

        def stream(self, messages: Sequence[Message], *, max_tokens: int = 512,
                   temperature: float = 0.0) -> Iterator[StreamEvent]:
            yield StreamEvent(done=True, result=self.generate(messages))

    rag = RAG(_rag(index, top_k=4, max_context_tokens=60).config, generator=Dangling())
    ans = rag.ask("How many days of paid leave per year?")
    assert ans.raw_output == "Twenty days [1]. See [9]." and "[9]" not in ans.text
    assert ans.prompt and ans.prompt[0].role == "system" and ans.prompt[-1].role == "user"
    assert ans.settings["template_version"] == PROMPT_TEMPLATE_VERSION
    assert ans.settings["answer"]["top_k"] == 4 and ans.settings["generator"] == "dangling"
    assert ans.settings["embedder_id"] == "ragqa/hashing-ngram-v1"
    # contexts: the blocks that fit the budget, a prefix of everything retrieved
    assert 1 <= len(ans.contexts) < len(ans.retrieved) == 3  # the 4th document is hr-only
    assert ans.retrieved[: len(ans.contexts)] == ans.contexts

    refused = rag.with_settings(max_unsupported=0.0).ask("How many days of paid leave does a Martian get?")
    assert refused.refused and refused.refusal_reason.startswith("unsupported_terms")
    assert refused.retrieved[: len(refused.contexts)] == refused.contexts and refused.contexts
    assert refused.raw_output is None


# -- thread safety and one shared index ------------------------------------------------------------
def test_one_rag_shared_by_threads_loads_each_part_once(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from rag_app.generators import registry

    made: list[str] = []
    real = registry.make_generator

    def slow_make(spec: str) -> object:
        made.append(spec)
        time.sleep(0.05)  # widen the window in which an unlocked lazy load would run twice
        return real(spec)

    monkeypatch.setattr(registry, "make_generator", slow_make)
    rag = _rag(index)
    barrier = threading.Barrier(8)
    answers: list[str] = []
    errors: list[BaseException] = []

    def worker(q: str) -> None:
        try:
            barrier.wait()
            answers.append(rag.ask(q).text)
        except BaseException as e:
            errors.append(e)

    qs = ["How many days of paid leave per year?", "Which port does the VPN use?"] * 4
    threads = [threading.Thread(target=worker, args=(q,)) for q in qs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert made == ["extractive"]
    assert sorted(set(answers)) == sorted({_rag(index).ask(q).text for q in set(qs)})
    rag.close()


def test_configurations_over_one_index_share_one_reader(index: Path) -> None:
    settings_ = IndexSettings(index_dir=index, embedder="hashing")
    held = shared_index.users(settings_)  # RAGs of earlier tests in this module that were not closed
    a = _rag(index)
    b = a.with_settings(mode="bm25", top_k=2)
    c = RAG(RAGConfig(index=settings_, answer=AnswerSettings(generator="extractive", mode="dense")))
    assert a.reader is b.reader is c.reader
    assert shared_index.users(settings_) == held + 3
    assert b.search("WireGuard port")[0].chunk.source.endswith("vpn.md")
    for r in (a, b):
        r.close()
    assert shared_index.users(settings_) == held + 1
    assert c.search("WireGuard port")  # still open for the last user
    c.close()
    assert shared_index.users(settings_) == held


# -- status and ingest through the API ---------------------------------------------------------------
def test_status_and_ingest(tmp_path: Path) -> None:
    rag = RAG(RAGConfig(index=IndexSettings(index_dir=tmp_path / "idx", embedder="hashing"),
                        answer=AnswerSettings(generator="extractive")))
    before = rag.status()
    assert not before.exists and before.documents == 0
    docs = _write_docs(tmp_path / "docs", {"a.md": "# A\n\nThe library opens at nine.",
                                           "b.md": "# B\n\n図書館は9時に開きます。"})
    report = rag.ingest([docs])
    assert report.files_indexed == 2 and report.exit_code == 0
    after = rag.status()
    assert after.exists and after.documents == 2 and after.chunks >= 2
    assert set(after.languages) == {"en", "ja"} and after.last_ingest is not None
    assert after.embedder_id == "ragqa/hashing-ngram-v1"
    (docs / "c.md").write_text("# C\n\nThe gym opens at seven.", encoding="utf-8")
    assert rag.search("gym opens")  # an open RAG sees what a later ingest adds
    rag.ingest([docs])
    assert any(h.chunk.source.endswith("c.md") for h in rag.search("gym opens at seven"))
    rag.close()


def test_errors_a_page_catches_are_exported(tmp_path: Path) -> None:
    rag = RAG(RAGConfig(index=IndexSettings(index_dir=tmp_path / "none", embedder="hashing")))
    with pytest.raises(rag_app.IndexMismatchError, match=r"no index at .*ragqa ingest PATH"):
        rag.search("anything")
    with pytest.raises(rag_app.UsageError):
        rag.ingest([tmp_path / "missing-folder"])
    with pytest.raises(ValueError, match="empty question"):
        rag.ask("  ")
    assert rag_app.parse_filters(file_types="pdf,.DOCX") == Filters(file_types=("pdf", "docx"))


# -- refusal thresholds per embedder -----------------------------------------------------------------
def test_refusal_thresholds_are_per_embedder(index: Path) -> None:
    from rag_app.config import DEFAULT_THRESHOLD_EMBEDDER

    rag = _rag(index)
    assert rag.refusal_threshold() is None  # E5's defaults do not apply to the hashing embedder
    assert rag.with_settings(mode="bm25").refusal_threshold() == 2.0
    cat = rag.reader.catalog
    with cat.transaction() as db:
        cat.set_meta(db, refusal_threshold_key("hybrid", "ragqa/hashing-ngram-v1"), "0.123")
        cat.set_meta(db, refusal_threshold_key("hybrid", "some/other-embedder"), "0.9")
    assert rag.refusal_threshold() == 0.123  # the calibration of the embedder the index holds
    with cat.transaction() as db:  # what a re-embed does: the index now holds another embedder
        cat.set_meta(db, "embedder_id", DEFAULT_THRESHOLD_EMBEDDER)
    try:
        assert rag.refusal_threshold() == 0.80  # hashing's calibration no longer applies
    finally:
        with cat.transaction() as db:
            cat.set_meta(db, "embedder_id", "ragqa/hashing-ngram-v1")
    rag.close()


# -- documents: list (with permissions), remove; new languages reach every configuration ------------
def test_documents_are_listed_with_permissions_and_removed(tmp_path: Path) -> None:
    rag = RAG(RAGConfig(index=IndexSettings(index_dir=tmp_path / "idx", embedder="hashing"),
                        answer=AnswerSettings(generator="extractive")))
    assert rag.documents() == []
    docs = _write_docs(tmp_path / "docs", DOCS)
    rag.ingest([docs])
    public = {d.source for d in rag.documents()}
    assert public == {"leave.md", "vpn.md", "kyuka.md"}  # salary.md is hr-only
    everything = rag.documents(groups=["hr"])
    assert {d.source for d in everything} == public | {"salary.md"}
    salary = next(d for d in everything if d.source == "salary.md")
    assert salary.groups == ("hr",) and Path(salary.root, salary.source).is_file() and salary.chunks >= 1
    vpn = next(d for d in everything if d.source == "vpn.md")
    assert any(h.chunk.source == "vpn.md" for h in rag.search("WireGuard port 51820"))
    report = rag.remove([vpn.doc_id])
    assert report.documents == (vpn.doc_id,) and report.chunks == vpn.chunks
    assert all(h.chunk.source != "vpn.md" for h in rag.search("WireGuard port 51820"))
    assert "vpn.md" not in {d.source for d in rag.documents()}
    assert rag.status().documents == 3
    with pytest.raises(ValueError, match=r"unknown document ids \['nope'\].*RAG.documents\(\)"):
        rag.remove(["nope"])
    rag.close()


def test_a_language_indexed_later_reaches_every_configuration(tmp_path: Path) -> None:
    settings_ = IndexSettings(index_dir=tmp_path / "idx", embedder="hashing")
    asker = RAG(RAGConfig(index=settings_, answer=AnswerSettings(generator="extractive")))
    asker.ingest([_write_docs(tmp_path / "en", {"a.md": "# A\n\nThe library opens at nine every day."})])
    assert asker.retriever.name == "hybrid" and asker.search("library opens")
    assert [r.name for r in asker.retriever.retrievers] == ["dense", "bm25"]  # type: ignore[attr-defined]
    other = RAG(RAGConfig(index=settings_, answer=AnswerSettings(generator="extractive")))
    other.ingest([_write_docs(tmp_path / "ja", {"b.md": "# B\n\n図書館は毎日9時に開館します。"})])
    hits = asker.search("図書館は何時に開館しますか")  # asker did not ingest: it still sees the Japanese list
    assert hits and hits[0].chunk.source == "b.md" and hits[0].dense_score is not None
    names = sorted(r.name for r in asker.retriever.retrievers)  # type: ignore[attr-defined]
    assert names == ["bm25", "dense[en]", "dense[ja]"]  # one dense list per language now indexed
    asker.close()
    other.close()


def test_a_shared_reader_opened_through_a_relative_path_survives_a_chdir(
        index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two callers name one index differently (relative, absolute); the shared reader is opened
    on the absolute path, so a later chdir cannot point its lazily opened store elsewhere."""
    (tmp_path / "link").symlink_to(index, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    relative = RAG(RAGConfig(index=IndexSettings(index_dir=Path("link"), embedder="hashing"),
                             answer=AnswerSettings(generator="extractive")))
    assert relative.reader.settings.index_dir.is_absolute()
    monkeypatch.chdir("/")
    absolute = _rag(index)
    assert absolute.reader is relative.reader
    assert absolute.search("WireGuard port")[0].chunk.source == "vpn.md"  # the store opens after the chdir
    relative.close()
    absolute.close()
