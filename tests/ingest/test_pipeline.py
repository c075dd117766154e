"""Incremental and crash-safe ingestion, on real files, a real Chroma and real SIGKILLs.

These tests use the hashing embedder (no model) so that many full runs fit in seconds; the
pipeline code under test is the same for every embedder. tests/test_end_to_end.py runs the
bundled E5 model over docs_corpus/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpora import mutate, write_corpus

from ingest.catalog import FORMAT_VERSION, Catalog, IndexMismatchError
from ingest.keyword import KeywordIndex
from ingest.pipeline import Ingestor, IngestProgress, UsageError
from ingest.settings import IndexSettings
from ingest.store import ChromaStore

REPO = Path(__file__).resolve().parents[2]


def settings(index: Path) -> IndexSettings:
    return IndexSettings(index_dir=index, embedder="hashing", chunk_tokens=64, chunk_overlap=8)


def snapshot(index: Path) -> dict[str, object]:
    """Everything that must agree: catalog chunks, Chroma ids, BM25 ids, document fingerprints."""
    cat = Catalog(index)
    chunks = {c.id: (c.source, c.ordinal, c.text) for c in cat.iter_chunks()}
    docs = {d.source: (d.content_hash, d.n_chunks) for d in cat.documents().values()}
    store_ids = ChromaStore(index).all_ids()
    kw = KeywordIndex(index)
    assert kw.is_fresh(cat), "keyword index is stale after a finished run"
    bm25_ids = list(kw.load(cat).ids)
    n_store = ChromaStore(index).count()
    cat.close()
    assert len(bm25_ids) == len(set(bm25_ids)), "duplicate ids in BM25"
    assert n_store == len(store_ids), "duplicate ids in Chroma"
    return {"chunks": chunks, "docs": docs, "store": store_ids, "bm25": set(bm25_ids)}


def assert_consistent(snap: dict[str, object]) -> None:
    chunks = snap["chunks"]
    assert isinstance(chunks, dict)
    assert snap["store"] == set(chunks), "Chroma and catalog disagree"
    assert snap["bm25"] == set(chunks), "BM25 and catalog disagree"
    docs = snap["docs"]
    assert isinstance(docs, dict)
    per_doc: dict[str, int] = {}
    for source, _, _ in chunks.values():
        per_doc[source] = per_doc.get(source, 0) + 1
    assert per_doc == {s: n for s, (_, n) in docs.items()}


def test_first_run_then_unchanged_run_skips_everything(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus)
    r1 = Ingestor(settings(index)).run([corpus])
    assert (r1.files_seen, r1.files_indexed, r1.files_failed) == (24, 24, [])
    assert r1.chunks_added > 24 and r1.exit_code == 0
    snap1 = snapshot(index)
    assert_consistent(snap1)
    r2 = Ingestor(settings(index)).run([corpus])
    assert (r2.files_indexed, r2.files_unchanged, r2.chunks_added, r2.chunks_deleted) == (0, 24, 0, 0)
    assert snapshot(index) == snap1


def test_changed_file_replaced_and_deleted_file_pruned(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus)
    Ingestor(settings(index)).run([corpus])
    (corpus / "en" / "doc03.md").write_text("# Policy 3\n\nCompletely rewritten: approvals take 9 days.", encoding="utf-8")
    (corpus / "ja" / "doc05.txt").unlink()
    r = Ingestor(settings(index)).run([corpus])
    assert (r.files_indexed, r.files_deleted, r.files_unchanged) == (1, 1, 22)
    snap = snapshot(index)
    assert_consistent(snap)
    texts = [t for s, _, t in snap["chunks"].values() if s == "en/doc03.md"]  # type: ignore[attr-defined]
    assert texts == ["Policy 3\n\nCompletely rewritten: approvals take 9 days."]
    assert "ja/doc05.txt" not in snap["docs"]  # type: ignore[operator]


def test_no_prune_keeps_deleted_files(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=3)
    Ingestor(settings(index)).run([corpus])
    (corpus / "en" / "doc01.md").unlink()
    r = Ingestor(settings(index)).run([corpus], prune=False)
    assert r.files_deleted == 0
    assert "en/doc01.md" in snapshot(index)["docs"]  # type: ignore[operator]


def test_prune_is_scoped_to_the_roots_given(tmp_path: Path) -> None:
    a, b, index = tmp_path / "a", tmp_path / "b", tmp_path / "idx"
    write_corpus(a, n=2)
    write_corpus(b, n=2)
    Ingestor(settings(index)).run([a, b])
    r = Ingestor(settings(index)).run([a])  # b is not mentioned: its documents stay
    assert r.files_deleted == 0 and r.files_unchanged == 4
    cat = Catalog(index)
    assert len(cat.documents()) == 8  # same relative paths under two roots are two documents
    cat.close()


def test_bad_files_are_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=2)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "junk.md").write_bytes(os.urandom(4096) + b"\x00\x00")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj<<>>\n%%EO")
    (corpus / "notes.xyz").write_text("unsupported", encoding="utf-8")
    r = Ingestor(settings(index)).run([corpus])
    assert r.files_indexed == 4 and r.exit_code == 3
    failed = {Path(f["path"]).name: f["error"] for f in r.files_failed}
    assert set(failed) == {"empty.txt", "junk.md", "broken.pdf", "notes.xyz"}
    assert "empty" in failed["empty.txt"]
    assert "unsupported" in failed["notes.xyz"]
    assert_consistent(snapshot(index))


def test_a_file_that_turns_bad_keeps_its_indexed_version(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=2)
    Ingestor(settings(index)).run([corpus])
    before = snapshot(index)
    (corpus / "en" / "doc01.md").write_bytes(b"\x00\x01\x02" * 500)
    r = Ingestor(settings(index)).run([corpus])
    assert r.exit_code == 3 and r.files_indexed == 0
    assert snapshot(index)["chunks"] == before["chunks"]


def test_other_embedder_is_refused_with_the_reindex_command(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=1)
    Ingestor(settings(index)).run([corpus])
    other = IndexSettings(index_dir=index, embedder="minilm")
    with pytest.raises(IndexMismatchError, match=r"built with embedder 'ragqa/hashing-ngram-v1'.*--reindex"):
        Ingestor(other).run([corpus])


def test_default_settings_reuse_the_embedder_the_index_records(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=1)
    Ingestor(settings(index)).run([corpus])
    (corpus / "en" / "doc00.md").write_text("# Changed\n\nnew text", encoding="utf-8")
    r = Ingestor(IndexSettings(index_dir=index, chunk_tokens=64, chunk_overlap=8)).run([corpus])  # default embedder
    assert r.embedder == "ragqa/hashing-ngram-v1" and r.files_indexed == 1


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="path not found"):
        Ingestor(settings(tmp_path / "idx")).run([tmp_path / "nope"])


# -- real kills ---------------------------------------------------------------------------------
# READY once the imports are done (chromadb is the slow one), DONE after the run.
_RUNNER = """
import sys
from pathlib import Path
import chromadb
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
s = IndexSettings(index_dir=Path(sys.argv[1]), embedder="hashing", chunk_tokens=64, chunk_overlap=8, embed_batch=8)
print("READY", flush=True)
r = Ingestor(s).run([Path(sys.argv[2])])
print("DONE", r.files_indexed, flush=True)
"""


def run_until_paused(index: Path, corpus: Path, point: str) -> bool:
    """Start an ingest that stops at ``point``; SIGKILL it there. False if it never got there."""
    env = {**os.environ, "RAGQA_TEST_PAUSE_AT": point, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-c", _RUNNER, str(index), str(corpus)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    deadline = time.monotonic() + 120
    paused = False
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        if line.startswith("RAGQA-PAUSED"):
            paused = True
            break
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    return paused


def reference(tmp_path: Path, corpus: Path) -> dict[str, object]:
    ref = tmp_path / "ref"
    Ingestor(settings(ref)).run([corpus])
    return snapshot(ref)


@pytest.mark.parametrize(
    "point",
    ["after_upsert:1", "after_upsert:5", "after_commit:1", "before_keyword:1"],
)
def test_sigkill_during_first_ingest_then_rerun_matches_clean_run(tmp_path: Path, point: str) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus)
    assert run_until_paused(index, corpus, point), f"ingest never reached {point}"
    Ingestor(settings(index)).run([corpus])
    snap = snapshot(index)
    assert_consistent(snap)
    assert snap == reference(tmp_path, corpus)


@pytest.mark.parametrize("point", ["after_upsert:1", "after_commit:1", "after_prune_commit:1"])
def test_sigkill_during_incremental_update_then_rerun_matches_clean_run(tmp_path: Path, point: str) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus)
    Ingestor(settings(index)).run([corpus])
    mutate(corpus)
    assert run_until_paused(index, corpus, point), f"ingest never reached {point}"
    Ingestor(settings(index)).run([corpus])
    snap = snapshot(index)
    assert_consistent(snap)
    assert snap == reference(tmp_path, corpus)


def start_runner(index: Path, corpus: Path) -> subprocess.Popen[str]:
    """An ingest subprocess, returned once it printed READY (its imports are done)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-c", _RUNNER, str(index), str(corpus)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "READY"
    return p


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.35, 0.5, 0.65])
def test_sigkill_at_random_moments_then_rerun_matches_clean_run(tmp_path: Path, fraction: float) -> None:
    """Kills by the clock, not at checkpoints: whatever the process was doing, ``fraction`` of
    the way through an identical clean run (timed first, from READY to exit)."""
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=40)
    clean = start_runner(tmp_path / "ref", corpus)
    t = time.perf_counter()
    out, _ = clean.communicate(timeout=300)
    work_s = time.perf_counter() - t
    assert clean.returncode == 0 and "DONE" in out, out

    p = start_runner(index, corpus)
    time.sleep(fraction * work_s)
    alive = p.poll() is None
    os.kill(p.pid, signal.SIGKILL)
    out, _ = p.communicate(timeout=30)
    assert alive and p.returncode == -signal.SIGKILL and "DONE" not in out, (
        f"the ingest finished before the kill at {fraction:.0%} of a {work_s:.1f} s run: nothing was tested")

    Ingestor(settings(index)).run([corpus])
    snap = snapshot(index)
    assert_consistent(snap)
    assert snap == snapshot(tmp_path / "ref")


def test_cli_ingest_json_contract(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=2)
    (corpus / "empty.txt").write_bytes(b"")
    env = {**os.environ, "RAGQA_EMBEDDER": "hashing", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "rag_app.cli", "ingest", str(corpus), "--index", str(index), "--json"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 3, p.stderr
    out = json.loads(p.stdout)
    for key in ("files_seen", "files_indexed", "files_unchanged", "files_deleted", "files_failed",
                "chunks_added", "chunks_deleted", "seconds"):
        assert key in out
    assert out["files_seen"] == 5 and out["files_indexed"] == 4
    assert out["files_failed"][0]["path"].endswith("empty.txt") and out["files_failed"][0]["error"]
    st = subprocess.run([sys.executable, "-m", "rag_app.cli", "status", "--index", str(index), "--json"],
                        env=env, capture_output=True, text=True, timeout=120)
    assert st.returncode == 0, st.stderr
    info = json.loads(st.stdout)
    assert info["documents"] == 4 and info["chunks"] == out["chunks_added"]
    assert info["embedder_id"] == "ragqa/hashing-ngram-v1" and info["format_version"] == FORMAT_VERSION
    bad = subprocess.run([sys.executable, "-m", "rag_app.cli", "ingest", str(tmp_path / "missing"), "--index",
                          str(index)], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "path not found" in bad.stderr


def test_ragqaignore_skips_listed_files(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=1)
    (corpus / "qa.jsonl").write_text('{"q": 1}\n', encoding="utf-8")
    (corpus / "drafts").mkdir()
    (corpus / "drafts" / "wip.md").write_text("# WIP\n\nnot ready", encoding="utf-8")
    (corpus / ".ragqaignore").write_text("# eval data\nqa.jsonl\ndrafts/\n", encoding="utf-8")
    r = Ingestor(settings(index)).run([corpus])
    assert (r.files_seen, r.files_indexed, r.files_failed) == (2, 2, [])


def test_progress_callback_gets_every_stage(tmp_path: Path) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=2)
    (corpus / "empty.txt").write_bytes(b"")
    steps: list[IngestProgress] = []
    Ingestor(settings(index), progress=steps.append).run([corpus])
    assert steps[0] == IngestProgress("plan", 5, 5)
    index_steps = [s for s in steps if s.stage == "index"]
    assert [s.done for s in index_steps] == [1, 2, 3, 4, 5] and {s.total for s in index_steps} == {5}
    assert {Path(s.path).name for s in index_steps if s.path} == {"doc00.md", "doc01.md", "doc00.txt", "doc01.txt",
                                                                  "empty.txt"}
    assert [s.stage for s in steps[-2:]] == ["prune", "bm25"]
    (corpus / "empty.txt").unlink()
    (corpus / "en" / "doc00.md").unlink()
    steps.clear()
    Ingestor(settings(index), progress=steps.append).run([corpus])
    assert [(s.stage, s.done, s.total) for s in steps] == [("plan", 0, 3), ("prune", 1, 1), ("bm25", 1, 1)]


def test_every_chunk_gets_its_document_context_in_the_catalog_and_bm25_terms(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "c"
    (corpus / "policies").mkdir(parents=True)
    body = " ".join(f"Sentence {j} says the rule number {j} applies." for j in range(60))
    (corpus / "policies" / "travel_rules_2026.md").write_text(f"# Travel\n\n{body}", encoding="utf-8")
    (corpus / "policies" / "travel_rules_2026.md.meta.json").write_text('{"title": "Zephyrine Travel Handbook"}',
                                                                         encoding="utf-8")
    Ingestor(settings(tmp_path / "idx")).run([corpus])
    cat = Catalog(tmp_path / "idx")
    chunks = list(cat.iter_chunks())
    terms = dict(cat.iter_terms())
    assert len(chunks) > 3
    for c in chunks:
        assert c.doc_context == "Zephyrine Travel Handbook | travel rules 2026" and "Zephyrine" not in c.text
        assert any("zephyrin" in t for t in terms[c.id])  # the context is BM25-indexed with every chunk
    cat.close()

    monkeypatch.setenv("RAGQA_DOC_CONTEXT", "off")  # a different chunking fingerprint: re-indexed
    again = Ingestor(settings(tmp_path / "idx")).run([corpus])
    assert again.files_indexed == 1
    cat = Catalog(tmp_path / "idx")
    assert {c.doc_context for c in cat.iter_chunks()} == {""}
    assert not any("zephyrin" in t for ts in dict(cat.iter_terms()).values() for t in ts)
    cat.close()


def test_changing_the_pdf_table_mode_reads_the_pdfs_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reportlab.pdfgen import canvas

    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=2)
    c = canvas.Canvas(str(corpus / "en" / "prices.pdf"))
    c.drawString(72, 720, "Enterprise plan: 99.95 % monthly uptime.")
    c.save()
    monkeypatch.setenv("RAGQA_PDF_TABLES", "ruled")
    Ingestor(settings(index)).run([corpus])
    monkeypatch.setenv("RAGQA_PDF_TABLES", "all")
    r = Ingestor(settings(index)).run([corpus])
    assert (r.files_indexed, r.files_unchanged) == (1, 4)
    r = Ingestor(settings(index)).run([corpus])
    assert (r.files_indexed, r.files_unchanged) == (0, 5)
    assert_consistent(snapshot(index))


def test_a_new_loader_version_reads_that_types_files_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.loaders import LOADER_VERSIONS

    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus)
    Ingestor(settings(index)).run([corpus])
    n_txt = len(list(corpus.rglob("*.txt")))
    monkeypatch.setitem(LOADER_VERSIONS, "txt", 2)
    r = Ingestor(settings(index)).run([corpus])
    assert (r.files_indexed, r.files_unchanged) == (n_txt, 24 - n_txt) and n_txt > 0
    assert_consistent(snapshot(index))


def test_a_bad_pdf_table_mode_fails_the_run_before_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index = tmp_path / "c", tmp_path / "idx"
    write_corpus(corpus, n=1)
    monkeypatch.setenv("RAGQA_PDF_TABLES", "bogus")
    with pytest.raises(UsageError, match=r"Unknown PDF table mode 'bogus' .* Supported: 'ruled'"):
        Ingestor(settings(index)).run([corpus])
    assert not (index / "catalog.sqlite").exists()
