"""Ingest and search against a real Chroma server (`chroma run`) started here on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.catalog import Catalog
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from ingest.store import ChromaStore
from retrieval.factory import make_retriever
from retrieval.index import IndexReader

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("the `chroma` server command is not installed: it comes with chromadb (pip install chromadb==1.5.9)")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"chroma run exited with code {proc.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail("chroma server did not answer within 60 s")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ingest_update_and_search_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nConnect with WireGuard to vpn.kitsune.example on port 51820.", encoding="utf-8")
    (docs / "leave.md").write_text("# 休暇\n\n年次有給休暇は入社6か月後に10日付与される。", encoding="utf-8")
    (docs / "hr.md").write_text("---\ngroups: [hr]\n---\n# Salary\n\nGrade E3 midpoint is 9,000,000 yen.", encoding="utf-8")
    s = IndexSettings(index_dir=tmp_path / "idx", embedder="hashing", chroma_url=chroma_url, collection="ragqa-test")
    r1 = Ingestor(s).run([docs])
    assert r1.files_indexed == 3 and r1.files_failed == []

    store = ChromaStore(s.index_dir, s.collection, chroma_url)
    assert store.location == chroma_url
    assert not (s.index_dir / "chroma").exists(), "vectors must go to the server, not a local store"
    n = store.count()
    assert n == r1.chunks_added

    (docs / "vpn.md").unlink()
    r2 = Ingestor(s).run([docs])
    assert r2.files_deleted == 1 and r2.chunks_deleted > 0
    assert store.count() == n - r2.chunks_deleted
    assert store.all_ids() == Catalog(s.index_dir).all_chunk_ids()

    reader = IndexReader(s)
    hits = make_retriever(reader, "dense").retrieve("年次有給休暇", top_k=5)
    assert hits and hits[0].chunk.source == "leave.md"
    assert all(h.chunk.source != "hr.md" for h in make_retriever(reader, "hybrid").retrieve("salary grade", top_k=5))
    hr = make_retriever(reader, "hybrid").retrieve("salary grade", top_k=5, groups=["hr"])
    assert hr[0].chunk.source == "hr.md"
