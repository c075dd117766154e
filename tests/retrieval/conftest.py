"""Fixtures of the retrieval tests; the index builders are in ``tiny_index``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tiny_index import build_index, two_language_docs

from retrieval.index import IndexReader


@pytest.fixture(scope="module")
def two_lang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexReader]:
    """A read-only two-language index (48 chunks: 24 en, 24 ja; 12 "hr")."""
    r = build_index(tmp_path_factory.mktemp("two-lang"), two_language_docs())
    yield r
    r.close()
