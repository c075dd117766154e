"""The page's answer settings and filters as typed values, built from what the widgets hold.

API keys are never entered on the page: they come from the environment, and the page only says
whether the variable a generator needs is set.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.permissions import parse_filters
from retrieval.types import Filters

MODES = ("hybrid", "dense", "bm25")
TOP_K_RANGE = (1, 20)
# kind -> what the detail field holds ("" : the kind is the whole spec)
GENERATOR_KINDS: dict[str, str] = {
    "auto": "",
    "extractive": "",
    "smollm2": "",
    "qwen-1.5b": "",
    "hf": "model path, optionally #adapter=DIR (a tuned LoRA adapter)",
    "llama-cpp": "path to a .gguf file",
    "openai": "model name, e.g. gpt-4o-mini",
    "openai-compatible": "model@http://host:port/v1",
    "anthropic": "model name, e.g. claude-haiku-4-5",
}
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(frozen=True, slots=True)
class PageSettings:
    generator: str = "auto"  # a generator spec (rag_app.generators.registry)
    mode: str = "hybrid"
    top_k: int = 5


ADAPTER_KINDS = ("smollm2", "qwen-1.5b", "llama-cpp")  # GGUF models a tuned adapter attaches to (#adapter=DIR)


def generator_spec(kind: str, detail: str = "", adapter: str = "") -> str:
    """The spec for a generator kind, its detail field and an optional tuned adapter folder
    (``ragqa finetune export-gguf``); ValueError naming what is missing."""
    from rag_app.generators.registry import parse_spec

    if kind not in GENERATOR_KINDS:
        raise ValueError(f"unknown generator {kind!r}; allowed: {', '.join(GENERATOR_KINDS)}")
    if GENERATOR_KINDS[kind] and not detail.strip():
        raise ValueError(f"{kind} needs its {GENERATOR_KINDS[kind]}")
    spec = f"{kind}:{detail.strip()}" if GENERATOR_KINDS[kind] else kind
    if adapter.strip():
        if kind not in ADAPTER_KINDS:
            raise ValueError(f"{kind} takes no adapter folder; a tuned adapter attaches to "
                             f"{', '.join(ADAPTER_KINDS)} (hf: add #adapter=DIR to its model path)")
        spec = f"{spec}#adapter={adapter.strip()}"
    if spec != kind:
        parse_spec(spec)  # raises ValueError with the allowed forms
    return spec


def split_spec(spec: str) -> tuple[str, str, str]:
    """(kind, detail, adapter) of a spec, the inverse of ``generator_spec`` (for the widgets'
    defaults); ("auto", "", "") for a spec the widgets cannot show."""
    head, _, frag = spec.partition("#")
    kind, _, detail = head.partition(":")
    if kind == "hf":
        return "hf", spec.partition(":")[2], ""
    adapter = frag.partition("=")[2] if frag.startswith("adapter=") else ""
    if kind not in GENERATOR_KINDS or bool(detail) != bool(GENERATOR_KINDS[kind]) or (frag and not adapter) \
            or (adapter and kind not in ADAPTER_KINDS):
        return "auto", "", ""
    return kind, detail, adapter


def key_notice(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """Whether the API key a kind needs is in the environment (never its value); None: no key needed."""
    var = KEY_VARIABLES.get(kind)
    if var is None:
        return None
    e = os.environ if env is None else env
    if e.get(var):
        return f"{var} is set in the server's environment."
    return f"{var} is not set: start the page with {var} in its environment (it is never entered here)."


def make_filters(folder: str | None, file_types: Sequence[str], langs: Sequence[str],
                 date_from: dt.date | None, date_to: dt.date | None) -> Filters | None:
    """Filters from the widgets; None when nothing is set."""
    f = parse_filters(source=folder or None, file_types=list(file_types), langs=list(langs),
                      date_from=date_from.isoformat() if date_from else None,
                      date_to=date_to.isoformat() if date_to else None)
    return None if f.is_empty() else f
