from __future__ import annotations

from pathlib import Path

import pytest

from tests.rag_app.ui.ui_corpus import build_index


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(docs folder, index folder) of the tiny page corpus; shared, never written by tests."""
    return build_index(tmp_path_factory.mktemp("ui"))
