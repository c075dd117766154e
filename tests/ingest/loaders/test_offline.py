"""Every real document loads with the network cut off: no loader downloads anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ingest.access import is_sidecar, read_access_meta
from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError, load_blocks
from ingest.types import BLOCK_SEPARATOR

MIXED = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "mixed_formats"
DOCS_CORPUS = Path(__file__).resolve().parents[3] / "docs_corpus"

# mixed_formats files that are not documents: they must fail cleanly, with this reason.
EXPECTED_FAILURES = {"SHA256SUMS": "unsupported file type (no extension)"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not is_sidecar(p))


def _supported(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS


@pytest.mark.usefixtures("no_network")
def test_no_network_fixture_refuses_connections() -> None:
    with pytest.raises(RuntimeError, match="network access attempted in an offline test"):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.getaddrinfo("example.com", 443)
    with socket.socket() as s, pytest.raises(RuntimeError, match="network access attempted"):
        s.connect(("127.0.0.1", 9))
    with socket.socket() as s, pytest.raises(RuntimeError, match="network access attempted"):
        s.connect_ex(("127.0.0.1", 9))


@pytest.mark.network_blocked
def test_network_blocked_marker_applies_the_fixture() -> None:
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.getaddrinfo("pypi.org", 443)


@pytest.mark.usefixtures("no_network")
def test_mixed_formats_load_offline() -> None:
    if not MIXED.is_dir():
        pytest.skip(f"dataset folder {MIXED} is absent (see ../shared/datasets/README.md)")
    files = _files(MIXED)
    assert len(files) >= 18
    loaded = 0
    for path in files:
        if path.name in EXPECTED_FAILURES:
            with pytest.raises(LoadError) as info:
                list(load_blocks(path))
            assert EXPECTED_FAILURES[path.name] in info.value.reason
            continue
        blocks = list(load_blocks(path))
        assert blocks, path
        for b in blocks:
            assert b.text.strip() == b.text or b.kind == "code"
            assert b.text.strip() and BLOCK_SEPARATOR not in b.text and "\x00" not in b.text
        loaded += 1
    assert loaded == len(files) - len(EXPECTED_FAILURES)


@pytest.mark.usefixtures("no_network")
def test_docs_corpus_loads_offline() -> None:
    files = _files(DOCS_CORPUS) if DOCS_CORPUS.is_dir() else []
    documents = [p for p in files if _supported(p)]
    if not documents:
        pytest.skip(f"{DOCS_CORPUS} has no documents: rebuild them with python scripts/build_docs_corpus.py")
    for path in documents:
        blocks = list(load_blocks(path))
        assert blocks, path
        assert all(b.text.strip() and BLOCK_SEPARATOR not in b.text for b in blocks)
        meta = read_access_meta(path, DOCS_CORPUS)
        assert meta.groups
    for path in files:
        if not _supported(path):
            with pytest.raises(LoadError, match="unsupported file type"):
                load_blocks(path)
