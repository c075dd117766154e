"""The catalog on a real SQLite file: manifest checks, generations, the named reads and writes."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from ingest.catalog import CATALOG_FILE, FORMAT_VERSION, Catalog, DocumentRecord, IndexMismatchError
from ingest.types import Chunk


def make_catalog(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "idx")
    cat.initialise(embedder_id="ragqa/hashing-ngram-v1", dim=256, analyzer="default", chunking="c1",
                   embedder_spec="hashing", collection="ragqa")
    return cat


def chunk(doc: str, ordinal: int, *, source: str | None = None, lang: str = "en", text: str | None = None) -> Chunk:
    body = text or f"text {doc} {ordinal}"
    return Chunk(id=f"{doc}-{ordinal}", doc_id=doc, text=body, source=source or f"{doc}.md", start=10 * ordinal,
                 end=10 * ordinal + len(body), ordinal=ordinal, page=ordinal + 1, heading_path=("Top", f"S{ordinal}"),
                 sheet=None, lang=lang, content_hash=f"h-{doc}", groups=("public", "hr"), file_type="markdown",
                 date="2026-04-01", n_tokens=3)


def record(doc: str, n_chunks: int, root: str = "/corpus") -> DocumentRecord:
    return DocumentRecord(doc_id=doc, root=root, source=f"{doc}.md", file_type="markdown", content_hash=f"h-{doc}",
                          fingerprint=f"fp-{doc}", size_bytes=123, n_chunks=n_chunks, groups=("public", "hr"),
                          title="Title", date="2026-04-01", indexed_at=1.5)


def add_document(cat: Catalog, doc: str, n: int, *, root: str = "/corpus", lang: str = "en") -> list[Chunk]:
    chunks = [chunk(doc, i, lang=lang) for i in range(n)]
    with cat.transaction() as db:
        cat.insert_chunks(db, chunks, [[f"t{doc}", f"w{i}"] for i in range(n)])
        cat.put_document(db, record(doc, n, root))
    return chunks


# -- manifest --------------------------------------------------------------------------------------
def test_initialise_writes_the_manifest_and_info_reads_it(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "idx")
    assert not cat.exists()
    cat.initialise(embedder_id="e/x", dim=8, analyzer="default", chunking="c1", embedder_spec="hashing",
                   collection="col")
    assert cat.exists() and (tmp_path / "idx" / CATALOG_FILE).is_file()
    info = cat.info()
    assert (info.format_version, info.embedder_id, info.dim, info.analyzer, info.chunking) == (
        FORMAT_VERSION, "e/x", 8, "default", "c1")
    assert (info.generation, info.documents, info.chunks) == (0, 0, 0)
    assert cat.get_meta("embedder_spec") == "hashing" and cat.get_meta("collection") == "col"
    assert cat.get_meta("missing") is None
    cat.close()


def test_check_of_a_folder_without_a_catalog_names_the_ingest_command(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match=r"is not a ragqa index \(no catalog\); build it with: ragqa ingest PATH "
                                                 r"--index .*idx$"):
        cat.check()
    cat.close()


def test_check_refuses_another_format_version_with_the_reindex_command(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    with cat.transaction() as db:
        cat.set_meta(db, "format_version", "99")
    with pytest.raises(IndexMismatchError, match=rf"has format version 99, this ragqa reads version {FORMAT_VERSION}; "
                                                 r"rebuild it with: ragqa ingest PATH --index .* --reindex$"):
        cat.check()
    cat.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedder_id": "intfloat/multilingual-e5-small"},
         r"built with embedder 'ragqa/hashing-ngram-v1', not 'intfloat/multilingual-e5-small'; either use the same "
         r"embedder or rebuild the index with: ragqa ingest PATH --index .* --reindex "
         r"--embedder <spec for intfloat/multilingual-e5-small>$"),
        ({"dim": 384}, r"built with dim '256', not '384'; .* --reindex$"),
        ({"analyzer": "english"}, r"built with analyzer 'default', not 'english'; .* --reindex$"),
    ],
)
def test_check_names_the_mismatch_and_the_fix(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    cat = make_catalog(tmp_path)
    with pytest.raises(IndexMismatchError, match=message):
        cat.check(**kwargs)  # type: ignore[arg-type]
    cat.check(embedder_id="ragqa/hashing-ngram-v1", dim=256, analyzer="default")  # the same: fine
    cat.close()


def test_initialise_again_checks_and_records_new_chunking(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    cat.initialise(embedder_id="ragqa/hashing-ngram-v1", dim=256, analyzer="default", chunking="c2")
    assert cat.get_meta("chunking") == "c2"
    with pytest.raises(IndexMismatchError, match="built with embedder"):
        cat.initialise(embedder_id="other", dim=256, analyzer="default", chunking="c2")
    cat.close()


def test_generation_bumps_on_commit_only(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    with cat.transaction() as db:
        cat.bump_generation(db)
        cat.bump_generation(db)
    assert cat.generation() == 2
    with pytest.raises(RuntimeError, match="boom"), cat.transaction() as db:
        cat.bump_generation(db)
        raise RuntimeError("boom")
    assert cat.generation() == 2
    cat.close()
    assert Catalog(tmp_path / "idx").generation() == 2  # durable


def test_recorded_settings_win_over_defaults_only(tmp_path: Path) -> None:
    assert Catalog(tmp_path / "none").recorded("collection", "ragqa", "ragqa") == "ragqa"  # no index yet
    cat = make_catalog(tmp_path)
    with cat.transaction() as db:
        cat.set_meta(db, "collection", "ragqa-0123abcd")
    assert cat.recorded("collection", "ragqa", "ragqa") == "ragqa-0123abcd"  # default asked: the record
    assert cat.recorded("collection", "mine", "ragqa") == "mine"  # explicit asked: explicit
    assert cat.recorded("embedder_spec", "e5", "e5") == "hashing"
    assert cat.recorded("embedder_spec", "minilm", "e5") == "minilm"
    with cat.transaction() as db:  # a re-embedded copy of an explicitly named collection is still it
        cat.set_meta(db, "collection", "mine-89abcdef")
    assert cat.recorded("collection", "mine", "ragqa") == "mine-89abcdef"
    cat.close()


# -- documents and chunks ----------------------------------------------------------------------------
def test_documents_and_chunks_round_trip(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    a = add_document(cat, "a", 3)
    add_document(cat, "b", 2, root="/other", lang="ja")
    assert cat.documents()["a"] == record("a", 3)
    assert set(cat.documents(root="/other")) == {"b"}
    assert cat.get_chunks([c.id for c in a]) == {c.id: c for c in a}
    assert cat.get_chunks(["nope"]) == {}
    assert [c.id for c in cat.iter_chunks()] == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert next(cat.iter_chunks()) == a[0]
    assert cat.chunk_ids_of("a") == ["a-0", "a-1", "a-2"]
    assert cat.all_chunk_ids() == {"a-0", "a-1", "a-2", "b-0", "b-1"}
    assert cat.chunk_count() == 5
    assert cat.language_counts() == [("en", 3), ("ja", 2)]
    assert list(cat.iter_terms())[:2] == [("a-0", ["ta", "w0"]), ("a-1", ["ta", "w1"])]
    assert cat.terms_of_source("b.md") == [["tb", "w0"], ["tb", "w1"]]
    assert cat.terms_of_source("missing.md") == []
    info = cat.info()
    assert (info.documents, info.chunks) == (2, 5)
    cat.close()


def test_doc_ids_of_chunks_looks_up_more_ids_than_one_query_binds(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    for d in ("a", "b", "c"):
        add_document(cat, d, 400)
    ids = [f"a-{i}" for i in range(400)] + [f"c-{i}" for i in range(400)] + ["ghost"]
    assert cat.doc_ids_of_chunks(ids) == {"a", "c"}
    assert cat.doc_ids_of_chunks([]) == set()
    assert len(cat.get_chunks(ids)) == 800
    cat.close()


def test_delete_document_chunks_and_mark_stale(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    add_document(cat, "a", 3)
    add_document(cat, "b", 2)
    with cat.transaction() as db:
        cat.delete_chunks(db, ["a-2"])
        cat.delete_document(db, "b")
    assert cat.all_chunk_ids() == {"a-0", "a-1"} and set(cat.documents()) == {"a"}
    cat.mark_stale(["a"])
    assert cat.documents()["a"].fingerprint == "stale"
    cat.close()


def test_a_document_replacement_is_undone_alone(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    add_document(cat, "a", 3)
    add_document(cat, "b", 2)
    cat.begin()
    assert cat.begin_document("a") == ["a-0", "a-1", "a-2"]
    assert cat.chunk_ids_of("a") == []  # rows deleted inside the savepoint
    cat.insert_chunks(cat.db, [chunk("a", 0, text="new text")], [["n"]])
    cat.end_document(record("a", 1))
    assert cat.begin_document("b") == ["b-0", "b-1"]
    cat.insert_chunks(cat.db, [chunk("b", 9)], [["x"]])
    cat.undo_document()  # b fails half-way: its previous rows come back, a's replacement stays
    cat.commit()
    assert cat.chunk_ids_of("a") == ["a-0"] and cat.get_chunks(["a-0"])["a-0"].text == "new text"
    assert cat.chunk_ids_of("b") == ["b-0", "b-1"]
    assert cat.documents()["a"].n_chunks == 1 and cat.documents()["b"].n_chunks == 2
    cat.close()


def test_rollback_drops_the_whole_group(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    add_document(cat, "a", 2)
    cat.begin()
    cat.begin_document("a")
    cat.end_document(record("a", 0))
    cat.rollback()
    assert cat.chunk_ids_of("a") == ["a-0", "a-1"]
    cat.close()


def test_begin_takes_the_write_lock_at_once(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    cat.begin()
    other = sqlite3.connect(cat.path, isolation_level=None, timeout=0.1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    cat.commit()
    other.execute("BEGIN IMMEDIATE")
    other.execute("COMMIT")
    other.close()
    cat.close()


def test_remove_deletes_the_sqlite_files(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    add_document(cat, "a", 1)
    files = [p for p in (tmp_path / "idx").iterdir() if re.match(re.escape(CATALOG_FILE), p.name)]
    assert files
    cat.remove()
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith(CATALOG_FILE)]
    assert not cat.exists()
    fresh = make_catalog(tmp_path)
    assert fresh.chunk_count() == 0 and fresh.generation() == 0
    fresh.close()


# -- format 2: the document context ----------------------------------------------------------------
def test_a_chunk_keeps_its_document_context(tmp_path: Path) -> None:
    cat = make_catalog(tmp_path)
    c = Chunk(**{**chunk("a", 0).to_dict(), "heading_path": ("Top",), "groups": ("public",),
                 "doc_context": "3M Company | Form 10-K | 3M 2018 10K"})
    with cat.transaction() as db:
        cat.insert_chunks(db, [c], [["t"]])
    assert cat.get_chunks([c.id])[c.id] == c and next(cat.iter_chunks()).doc_context == c.doc_context
    cat.close()


def test_a_format_1_catalog_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "idx" / CATALOG_FILE
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
            ordinal INTEGER NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL, start INTEGER NOT NULL,
            "end" INTEGER NOT NULL, page INTEGER, heading_path TEXT NOT NULL, sheet TEXT, lang TEXT NOT NULL,
            content_hash TEXT NOT NULL, groups TEXT NOT NULL, file_type TEXT NOT NULL, date TEXT,
            n_tokens INTEGER NOT NULL, terms TEXT NOT NULL);
        INSERT INTO meta VALUES ('format_version', '1'), ('embedder_id', 'e'), ('dim', '8'), ('analyzer', 'default');
        INSERT INTO chunks VALUES (1, 'c1', 'd', 0, 'old text', 'a.md', 0, 8, NULL, '[]', NULL, 'en', 'h',
            '["public"]', 'md', NULL, 3, 'old');
    """)
    db.commit()
    db.close()
    cat = Catalog(tmp_path / "idx")
    cat.check()  # format 1 is read after the migration
    assert cat.info().format_version == FORMAT_VERSION == 2
    old = cat.get_chunks(["c1"])["c1"]
    assert (old.text, old.doc_context) == ("old text", "")  # embedded without a context: none recorded
    cat.close()
    again = Catalog(tmp_path / "idx")
    assert again.info().format_version == 2 and again.chunk_count() == 1  # migrating twice is a no-op
    again.close()
