"""LangChain's own standard retriever test suite (langchain-tests) over a real ragqa index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="langchain-core not installed: pip install 'ragqa[langchain]'")
pytest.importorskip("langchain_tests", reason="langchain-tests not installed: pip install langchain-tests")

from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag_app.adapters.langchain import RagqaLangChainRetriever


class TestRagqaLangChainStandard(RetrieversIntegrationTests):
    index_dir: Path | None = None

    @pytest.fixture(autouse=True)
    def _index(self, adapter_index: Path) -> None:
        type(self).index_dir = adapter_index

    @property
    def retriever_constructor(self) -> type[RagqaLangChainRetriever]:
        return RagqaLangChainRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        assert self.index_dir is not None, "the _index fixture sets index_dir"
        return {"index_dir": self.index_dir, "mode": "hybrid", "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "annual leave policy"
