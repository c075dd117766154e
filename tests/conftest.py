"""Fixtures shared by every ragqa test.

``no_network``: any socket connection or DNS lookup raises RuntimeError, so a test proves
that the code under test stays offline (no model hub, no telemetry). Tests marked
``@pytest.mark.network_blocked`` get it automatically.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        target = next((a for a in args if not isinstance(a, socket.socket)), kwargs or "?")
        raise RuntimeError(f"network access attempted in an offline test: {what}({target!r})")

    return refuse


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse connect / connect_ex / create_connection / getaddrinfo for the test's duration."""
    monkeypatch.setattr(socket.socket, "connect", _refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", _refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", _refuse("socket.getaddrinfo"))
    yield


@pytest.fixture(autouse=True)
def _network_blocked_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("network_blocked") is not None:
        request.getfixturevalue("no_network")


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """docs_corpus/ ingested once per session with the default embedder (bundled E5), with the
    network blocked throughout: the README's main path, offline."""
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    index = tmp_path_factory.mktemp("corpus") / "idx"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _refuse("socket.connect"))
        mp.setattr(socket.socket, "connect_ex", _refuse("socket.connect_ex"))
        mp.setattr(socket, "create_connection", _refuse("socket.create_connection"))
        mp.setattr(socket, "getaddrinfo", _refuse("socket.getaddrinfo"))
        report = Ingestor(IndexSettings(index_dir=index)).run([REPO / "docs_corpus"])
    assert report.files_failed == [], report.files_failed
    return index
