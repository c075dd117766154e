"""OpenAI embeddings against a real HTTP server on 127.0.0.1 speaking the /v1/embeddings API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

pytest.importorskip("openai", reason="the OpenAI embedder needs the openai SDK: pip install 'ragqa[openai]'")

from ingest.embedders import get_embedder
from ingest.embedders.openai_embedder import OpenAIEmbedder

DIM = 8
SEEN: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        texts = body["input"]
        data = []
        for i, t in enumerate(texts):
            v = np.zeros(DIM)
            v[len(t) % DIM] = 3.0  # deterministic, not normalised: the embedder must normalise
            v[0] += 1.0
            data.append({"object": "embedding", "index": i, "embedding": v.tolist()})
        data.reverse()  # servers may answer out of order: the embedder must sort by index
        out = json.dumps({"object": "list", "data": data, "model": body["model"],
                          "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()


def test_batches_normalises_and_keeps_order(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    SEEN.clear()
    emb = OpenAIEmbedder(model="my-embed", base_url=server, dim=DIM, batch_size=2)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    m = emb.embed_documents(texts)
    assert m.shape == (5, DIM) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0)
    for row, t in zip(m, texts, strict=True):
        assert np.argmax(row) == len(t) % DIM or len(t) % DIM == 0
    assert [len(s["body"]["input"]) for s in SEEN] == [2, 2, 1]
    assert all(s["path"].endswith("/embeddings") and s["body"]["model"] == "my-embed" for s in SEEN)
    assert SEEN[0]["auth"] == "Bearer sk-test-not-a-real-key"
    q = emb.embed_query("zz")
    assert q.shape == (DIM,) and emb.model_id == "openai:my-embed"


def test_spec_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("RAGQA_OPENAI_BASE_URL", raising=False)
    e = get_embedder("openai:text-embedding-3-small")
    assert e.dim == 1536 and e.model_id == "openai:text-embedding-3-small"
    with pytest.raises(RuntimeError, match="set OPENAI_API_KEY"):
        e.embed_query("x")
    with pytest.raises(ValueError, match="unknown dimension for OpenAI embedding model 'custom'"):
        OpenAIEmbedder(model="custom")
    with pytest.raises(ValueError, match="unknown embedder 'nope'; allowed: e5"):
        get_embedder("nope")
