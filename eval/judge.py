"""The LLM judge for ragas's LLM-judged metrics: which one, whether it answers, and the ragas
objects built over it. Without a judge no LLM metric runs (ragas would fall back to OpenAI).

Judge specs (``--judge``), the generator spec forms of ``rag_app.generators.registry``::

    openai-compatible:MODEL@http://127.0.0.1:8080/v1   key (optional) in RAGQA_JUDGE_API_KEY
    openai:MODEL                                       key in OPENAI_API_KEY
    anthropic:MODEL                                    key in ANTHROPIC_API_KEY
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

JUDGE_FORMS = ("openai-compatible:MODEL@http://HOST:PORT/v1", "openai:MODEL", "anthropic:MODEL")
COMPATIBLE_KEY_ENV = "RAGQA_JUDGE_API_KEY"


class JudgeError(ValueError):
    """A judge that cannot be used: bad spec, missing key, unreachable server."""


@dataclass(frozen=True, slots=True)
class JudgeSpec:
    kind: str  # openai-compatible | openai | anthropic
    model: str
    base_url: str = ""

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")

    @property
    def key_env(self) -> str:
        return {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}.get(self.kind, COMPATIBLE_KEY_ENV)


def parse_judge(text: str) -> JudgeSpec:
    from rag_app.generators.registry import parse_spec

    try:
        p = parse_spec(text)
    except ValueError:
        p = None
    if p is None or p.kind not in ("openai-compatible", "openai", "anthropic"):
        raise JudgeError(f"bad judge {text!r}; allowed forms: {', '.join(JUDGE_FORMS)}")
    return JudgeSpec(kind=p.kind, model=p.model, base_url=p.base_url.rstrip("/"))


def check_judge(judge: JudgeSpec, timeout_s: float = 5.0) -> None:
    """Fail now, before any scoring, when the judge cannot answer: an API key that is not set, or
    an OpenAI-compatible server that does not answer ``GET /models``."""
    if judge.kind != "openai-compatible":
        if not os.environ.get(judge.key_env, "").strip():
            raise JudgeError(f"judge {judge.text}: {judge.key_env} is not set; export {judge.key_env}=<your key> "
                             "or use a local judge (openai-compatible:MODEL@http://127.0.0.1:PORT/v1)")
        return
    req = urllib.request.Request(f"{judge.base_url}/models", headers=_auth_headers(judge))
    try:
        with urllib.request.urlopen(req, timeout=timeout_s):
            return
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise JudgeError(f"judge server {judge.base_url} refused the key (HTTP {e.code}): set "
                             f"{COMPATIBLE_KEY_ENV} to its API key") from None
        return  # it answered: a server without /models can still judge
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise JudgeError(f"judge {judge.text} is unreachable at {judge.base_url} ({reason}): start the server "
                         "(e.g. python -m rag_app.generators.llama_server --model MODEL.gguf --port PORT) or fix --judge") from None


def _auth_headers(judge: JudgeSpec) -> dict[str, str]:
    key = os.environ.get(judge.key_env, "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def ragas_llm(judge: JudgeSpec, timeout_s: float = 120.0) -> Any:
    """The ragas LLM over the judge (``ragas.llms.llm_factory`` with an explicit client, so ragas
    never builds its default OpenAI one)."""
    from ragas.llms import llm_factory

    if judge.kind == "anthropic":
        from anthropic import AsyncAnthropic

        return llm_factory(judge.model, provider="anthropic", client=AsyncAnthropic(timeout=timeout_s))
    from openai import AsyncOpenAI

    key = os.environ.get(judge.key_env, "").strip() or "not-needed"
    client = AsyncOpenAI(base_url=judge.base_url or None, api_key=key, timeout=timeout_s, max_retries=1)
    return llm_factory(judge.model, provider="openai", client=client)


def ragas_embeddings(embedder_spec: str) -> Any:
    """ragas embeddings over a ragqa embedder (``ingest.embedders.get_embedder``; offline), for
    response relevancy, which compares question embeddings."""
    from ragas.embeddings.base import BaseRagasEmbeddings

    from ingest.embedders import get_embedder

    inner = get_embedder(embedder_spec)

    class _RagqaEmbeddings(BaseRagasEmbeddings):
        def embed_query(self, text: str) -> list[float]:
            return [float(x) for x in inner.embed_query(text)]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in inner.embed_documents(texts)]

        async def aembed_query(self, text: str) -> list[float]:
            return self.embed_query(text)

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embed_documents(texts)

    return _RagqaEmbeddings()
