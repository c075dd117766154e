"""The bad-input zoo: every case is a LoadError with an actionable reason, never another
exception, a hang, or a silently empty result."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError, file_type_of, load_blocks


def test_supported_extensions_and_file_types() -> None:
    assert SUPPORTED_EXTENSIONS == (
        "pdf",
        "docx",
        "pptx",
        "xlsx",
        "csv",
        "html",
        "htm",
        "md",
        "markdown",
        "txt",
    )
    assert file_type_of(Path("a/B.PDF")) == "pdf"
    assert file_type_of(Path("x.htm")) == "html"
    assert file_type_of(Path("x.markdown")) == "md"
    assert file_type_of(Path("notes.txt")) == "txt"


@pytest.mark.parametrize("name", ["data.xyz", "archive.tar.gz", "Makefile", "old.doc"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x")
    with pytest.raises(LoadError, match=r"unsupported file type .*; supported: \.pdf, \.docx") as info:
        load_blocks(path)  # raised at the call, before iteration
    assert info.value.path == path
    assert str(info.value) == f"{path}: {info.value.reason}"


def test_unsupported_message_names_the_extension(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"unsupported file type '\.xyz'"):
        file_type_of(tmp_path / "a.xyz")


@pytest.mark.parametrize("ext", SUPPORTED_EXTENSIONS)
def test_empty_file(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    with pytest.raises(LoadError, match="empty file"):
        load_blocks(path)


@pytest.mark.parametrize("ext", ["txt", "md", "markdown", "csv", "html", "htm"])
def test_random_bytes_in_text_formats_say_binary(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"junk.{ext}"
    path.write_bytes(random.Random(ext).randbytes(10_000))
    with pytest.raises(LoadError, match="binary data in a text file"):
        list(load_blocks(path))


@pytest.mark.parametrize("ext", ["pdf", "docx", "pptx", "xlsx"])
def test_random_bytes_in_binary_formats(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"junk.{ext}"
    path.write_bytes(random.Random(ext).randbytes(10_000))
    with pytest.raises(LoadError, match=r"corrupt or truncated PDF|not a valid"):
        list(load_blocks(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        load_blocks(tmp_path / "gone.txt")


def test_file_vanishing_between_call_and_read(tmp_path: Path) -> None:
    path = tmp_path / "soon-gone.md"
    path.write_text("# Title\n\nbody\n")
    blocks = load_blocks(path)  # checks pass, reading is lazy
    path.unlink()
    with pytest.raises(LoadError, match="file disappeared while reading"):
        list(blocks)


@pytest.mark.parametrize("ext", ["pdf", "docx", "xlsx", "html", "csv"])
def test_vanishing_file_in_every_loader(tmp_path: Path, ext: str, make_pdf: Callable[..., Path]) -> None:
    path = make_pdf("x.pdf", ["text"]) if ext == "pdf" else tmp_path / f"x.{ext}"
    if ext != "pdf":
        path.write_bytes(b"PK\x03\x04 fake" if ext in ("docx", "xlsx") else b"a,b\n1,2\n")
    blocks = load_blocks(path)
    path.unlink()
    with pytest.raises(LoadError, match="disappeared"):
        list(blocks)


def test_directory_with_a_supported_name(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(LoadError, match="is a directory"):
        load_blocks(tmp_path / "folder.md")


def test_unreadable_file(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions are not enforced (run the tests as a non-root user)")
    path = tmp_path / "locked.txt"
    path.write_text("secret")
    path.chmod(0)
    with pytest.raises(LoadError, match="permission denied"):
        list(load_blocks(path))


def test_html_without_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.html"
    path.write_text("<html><head><script>x()</script></head><body><nav>menu</nav></body></html>")
    with pytest.raises(LoadError, match="no text found in HTML"):
        list(load_blocks(path))


def test_load_error_pickles() -> None:
    error = LoadError(Path("a/b.pdf"), "encrypted PDF: provide the password or remove it")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))
