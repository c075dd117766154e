"""Replay of recorded HTTP exchanges (recordings/*.json) through ``httpx2.MockTransport``.

The openai and anthropic SDKs send through ``httpx2``; giving them an ``httpx2.Client`` with this
transport exercises their real request building, status handling and SSE parsing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

httpx2 = pytest.importorskip("httpx2", reason="httpx2 comes with the openai/anthropic SDKs: pip install 'ragqa[openai]'")

RECORDINGS = Path(__file__).parent / "recordings"


def load(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))


def sse_body(events: list[dict[str, Any]]) -> bytes:
    """Server-sent events wire text: ``event:`` (when named) and ``data:`` lines, blank-line separated."""
    out = []
    for ev in events:
        data = ev["data"] if isinstance(ev["data"], str) else json.dumps(ev["data"])
        out.append((f"event: {ev['event']}\n" if "event" in ev else "") + f"data: {data}\n\n")
    return "".join(out).encode()


def to_response(rec: dict[str, Any]) -> Any:
    resp = rec["response"]
    if "events" in resp:
        return httpx2.Response(resp["status"], headers=resp["headers"], content=sse_body(resp["events"]))
    return httpx2.Response(resp["status"], headers=resp["headers"], content=json.dumps(resp["body"]).encode())


class Replay:
    """Serves queued recordings per (method, path), in order; a queue's last item repeats.
    ``requests`` keeps every request seen, to assert on headers and bodies."""

    def __init__(self, *names: str) -> None:
        self.queues: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.requests: list[Any] = []
        for name in names:
            rec = load(name)
            key = (rec["request"]["method"], rec["request"]["path"])
            self.queues.setdefault(key, []).append(rec)

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        queue = self.queues.get((request.method, request.url.path))
        if not queue:
            return httpx2.Response(599, json={"error": f"no recording for {request.method} {request.url.path}"})
        rec = queue.pop(0) if len(queue) > 1 else queue[0]
        return to_response(rec)

    def client(self) -> Any:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]
