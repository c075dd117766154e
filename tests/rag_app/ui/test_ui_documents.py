from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rag_app import RAG
from rag_app.ui.documents import DocumentLibrary, filter_choices
from rag_app.ui.uploads import is_upload, remove_upload, safe_name, save_upload, upload_problem


def test_restricted_documents_are_invisible_without_the_group(ui_index: tuple[Path, Path]) -> None:
    docs, index = ui_index
    lib = DocumentLibrary(index)
    everyone = {d.source for d in lib.all()}
    public = {d.source for d in lib.visible([])}
    hr = {d.source for d in lib.visible(["hr"])}
    assert "hr/bonus_plan.md" in everyone and "hr/bonus_plan.md" in hr
    assert "hr/bonus_plan.md" not in public and public == everyone - {"hr/bonus_plan.md", "finance/budget.md"}
    bonus = next(d for d in lib.all() if d.source == "hr/bonus_plan.md")
    assert lib.get(bonus.doc_id, []) is None and lib.file_for(bonus.doc_id, []) is None
    assert lib.file_for(bonus.doc_id, ["hr"]) == docs / "hr" / "bonus_plan.md"
    assert bonus.name == "Bonus plan"


def test_filter_choices_come_from_visible_documents_only(ui_index: tuple[Path, Path]) -> None:
    _, index = ui_index
    lib = DocumentLibrary(index)
    choices = filter_choices(lib.visible([]))
    assert choices.folders == ("hr", "it") and choices.file_types == ("md", "pdf")  # no "finance": all of it is restricted
    assert "finance" in filter_choices(lib.visible(["finance"])).folders


def test_upload_checks_look_at_name_and_size_only() -> None:
    assert "unsupported file type .exe" in (upload_problem("tool.exe", 10, 1000) or "")
    assert "over the 50 MB upload limit" in (upload_problem("big.pdf", 200 * 2**20, 50 * 2**20) or "")
    assert "empty" in (upload_problem("e.md", 0, 1000) or "")
    assert upload_problem("ok.PDF", 10, 1000) is None
    assert safe_name("../../etc/passwd.md") == "passwd.md" and safe_name("議事録 (1).md") == "議事録 (1).md"


def test_uploads_are_ingested_with_their_groups_and_removed_again(tmp_path: Path, ui_index: tuple[Path, Path]) -> None:
    docs, _ = ui_index
    rag = RAG.from_config(index_dir=tmp_path / "idx", embedder="hashing", generator="extractive")
    rag.ingest([docs])
    uploads = tmp_path / "uploads"
    saved = save_upload(io.BytesIO(b"# Secret\n\nThe Quokka budget is 5 million yen.\n"), "quokka.md", uploads, ["finance"])
    assert json.loads((uploads / "quokka.md.meta.json").read_text())["groups"] == ["finance"]
    save_upload(io.BytesIO(b"%PDF-1.4 broken"), "broken.pdf", uploads)
    report = rag.ingest([uploads])
    assert report.files_indexed == 1 and [Path(f["path"]).name for f in report.files_failed] == ["broken.pdf"]
    lib = DocumentLibrary(tmp_path / "idx")
    quokka = next(d for d in lib.all() if d.source == "quokka.md")
    assert quokka.groups == ("finance",) and is_upload(quokka.root, uploads)
    assert lib.get(quokka.doc_id, []) is None
    before = {d.source for d in lib.all()} - {"quokka.md"}
    remove_upload(saved, uploads)
    remove_upload(uploads / "broken.pdf", uploads)
    rag.ingest([uploads])
    assert {d.source for d in lib.all()} == before  # the other folder's documents are untouched
    with pytest.raises(ValueError, match="not in the uploads folder"):
        remove_upload(docs / "it" / "vpn.md", uploads)
