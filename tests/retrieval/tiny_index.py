"""Small real indexes for the retrieval tests: the real pipeline (catalog, Chroma on disk, BM25)
with the hashing embedder, one chunk per document, about a second to build."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from retrieval.index import IndexReader

EN = ["salary", "budget", "vpn", "leave", "password", "server", "plan", "audit", "travel", "laptop",
      "policy", "expense", "holiday", "network", "backup", "invoice", "contract", "meeting"]
JA = ["給与", "予算", "休暇", "申請", "規程", "出張", "経費", "会議", "契約", "請求書", "承認", "研修"]

Doc = tuple[str, dict[str, Any], str]  # (path below the root, sidecar metadata, text)


def write_docs(root: Path, docs: Sequence[Doc]) -> None:
    for name, meta, text in docs:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        Path(str(p) + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")


def index_settings(base: Path) -> IndexSettings:
    return IndexSettings(index_dir=base / "idx", embedder="hashing", chunk_tokens=256, chunk_overlap=0)


def build_index(base: Path, docs: Sequence[Doc]) -> IndexReader:
    """Ingest ``docs`` under ``base/docs`` into ``base/idx``; a reader over it."""
    write_docs(base / "docs", docs)
    s = index_settings(base)
    report = Ingestor(s).run([base / "docs"])
    assert report.files_failed == [], report.files_failed
    return IndexReader(s)


def two_language_docs(n: int = 48, seed: int = 11) -> list[Doc]:
    """Alternating English / Japanese notes; every fourth one "hr", the rest public; md/txt; 12 dates."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        ja = i % 2 == 1
        words = rnd.sample(JA if ja else EN, k=rnd.randint(3, 7))
        meta = {"groups": ["hr"] if i % 4 == 0 else ["public"], "date": f"2025-{1 + i % 12:02d}-15",
                "lang": "ja" if ja else "en"}
        name = f"{['a', 'b'][i % 2]}/doc{i:02d}.{'md' if i % 3 else 'txt'}"
        docs.append((name, meta, ("文書" if ja else "Note ") + f"{i}: " + ("" if ja else " ").join(words)))
    return docs
