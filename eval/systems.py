"""The systems an evaluation compares, as small named specs parsed from strings.

Forms (``--systems``, comma-separated; options in brackets)::

    extractive                      retrieval + the extractive generator (no model)
    rag:GEN                         retrieval + any generator spec (smollm2, hf:BASE#adapter=DIR, openai:MODEL ...)
    closed-book:GEN                 the generator given only the question (no retrieval)
    ft:ADAPTER                      closed-book with a fine-tuned (knowledge-injection) LoRA adapter
    rag+ft:ADAPTER                  retrieval + a RAFT-tuned LoRA adapter

    rag:smollm2[mode=bm25,top_k=3]  retrieval settings per system: mode, top_k, depth, reranker,
                                    index (another index folder, e.g. re-embedded with a tuned
                                    encoder), embedder; name=LABEL renames it in the report;
                                    base=PATH gives an adapter's base model when the catalogue
                                    does not know it (ft / rag+ft)

An adapter's base model is the one its ``ragqa_adapter.json`` names (``ragqa models``); it runs as
the generator ``hf:BASE#adapter=ADAPTER``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

SYSTEM_FORMS = ("extractive", "rag:GEN", "closed-book:GEN", "ft:ADAPTER", "rag+ft:ADAPTER")
FAMILIES = ("extractive", "rag", "closed-book", "ft", "rag+ft")
RETRIEVAL_MODES = ("dense", "bm25", "hybrid")
_SPEC_RE = re.compile(r"(?P<head>[^\[\]]+?)(?:\[(?P<opts>[^\[\]]*)\])?")


class SystemSpecError(ValueError):
    """A system spec that cannot run: unknown form, bad option, missing adapter or model."""


@dataclass(frozen=True, slots=True)
class RetrievalOptions:
    """Per-system retrieval settings; None keeps the configured default."""

    mode: str | None = None
    top_k: int | None = None
    depth: int | None = None
    reranker: str | None = None
    index: str | None = None  # another index folder
    embedder: str | None = None

    def answer_overrides(self) -> dict[str, Any]:
        """The ``RAG.with_settings`` keywords these options set."""
        return {k: v for k, v in (("mode", self.mode), ("top_k", self.top_k), ("depth", self.depth),
                                  ("reranker", self.reranker)) if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """One system. ``generator`` is the generator spec it runs (for ft / rag+ft: resolved by
    ``resolve`` to ``hf:BASE#adapter=DIR``; "" until then); ``adapter`` the adapter folder."""

    family: str
    target: str  # GEN or ADAPTER as written
    retrieval: RetrievalOptions = RetrievalOptions()
    name: str = ""
    base: str = ""  # base model path for an adapter (option base=)
    generator: str = ""

    @property
    def uses_retrieval(self) -> bool:
        return self.family in ("extractive", "rag", "rag+ft")

    @property
    def adapter(self) -> str:
        return self.target if self.family in ("ft", "rag+ft") else ""

    @property
    def label(self) -> str:
        """The name in reports: ``name=`` or the spec as written (options sorted)."""
        if self.name:
            return self.name
        head = self.family if self.family == "extractive" else f"{self.family}:{self.target}"
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.retrieval.to_dict().items()))
        return f"{head}[{opts}]" if opts else head

    @property
    def slug(self) -> str:
        """A file name for the label: safe characters plus a short hash (labels may differ only in '/')."""
        safe = re.sub(r"[^\w.+-]+", "_", self.label).strip("_")[:60]
        return f"{safe}-{hashlib.sha256(self.label.encode('utf-8')).hexdigest()[:8]}"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "family": self.family, "target": self.target,
                "retrieval": self.retrieval.to_dict(), "name": self.name, "base": self.base,
                "generator": self.generator}


def _bad(text: str, why: str) -> SystemSpecError:
    return SystemSpecError(f"bad system {text!r}: {why}; allowed forms: {', '.join(SYSTEM_FORMS)} "
                        "with optional [mode=...,top_k=...,depth=...,reranker=...,index=...,embedder=...,"
                        "name=...,base=...], e.g. rag:smollm2[mode=bm25,top_k=3]")


def split_systems(text: str) -> list[str]:
    """``"a,b[x=1,y=2],c"`` -> ``["a", "b[x=1,y=2]", "c"]``: commas inside brackets stay."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _options(text: str, raw: str) -> tuple[RetrievalOptions, str, str]:
    values: dict[str, Any] = {}
    name = base = ""
    for item in (s.strip() for s in raw.split(",") if s.strip()):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not value:
            raise _bad(text, f"option {item!r} is not key=value")
        if key == "name":
            name = value
        elif key == "base":
            base = value
        elif key in ("top_k", "depth"):
            if not value.isdigit() or int(value) < 1:
                raise _bad(text, f"{key}={value!r} must be a whole number >= 1")
            values[key] = int(value)
        elif key == "mode":
            if value not in RETRIEVAL_MODES:
                raise _bad(text, f"mode={value!r} is unknown; allowed: {', '.join(RETRIEVAL_MODES)}")
            values[key] = value
        elif key in ("reranker", "index", "embedder"):
            values[key] = value
        else:
            raise _bad(text, f"unknown option {key!r}")
    return RetrievalOptions(**values), name, base


def parse_system(text: str) -> SystemSpec:
    """The spec of one system string (syntax only; ``resolve`` checks that it can run)."""
    m = _SPEC_RE.fullmatch(text.strip())
    if not m:
        raise _bad(text, "unbalanced or misplaced brackets")
    head = m["head"].strip()
    opts, name, base = _options(text, m["opts"] or "")
    if head == "extractive":
        family, target = "extractive", "extractive"
    else:
        family, sep, target = head.partition(":")
        target = target.strip()
        if not sep or family not in FAMILIES or family == "extractive":
            raise _bad(text, f"unknown system {head!r}")
        if not target:
            raise _bad(text, f"nothing after '{family}:'")
    spec = SystemSpec(family=family, target=target, retrieval=opts, name=name, base=base)
    if not spec.uses_retrieval and opts.to_dict():
        raise _bad(text, f"{family} systems do not retrieve, so retrieval options {sorted(opts.to_dict())} do nothing")
    if family == "closed-book" and target == "extractive":
        raise _bad(text, "the extractive generator only quotes retrieved passages, so it has no closed-book form; "
                         "use closed-book:smollm2 or another model")
    if base and not spec.adapter:
        raise _bad(text, "base= applies only to ft:ADAPTER and rag+ft:ADAPTER")
    return spec


def parse_systems(text: str) -> list[SystemSpec]:
    """Every system of a ``--systems`` string; two systems with one label are refused."""
    specs = [parse_system(s) for s in split_systems(text)]
    if not specs:
        raise _bad(text, "no system given")
    labels = [s.label for s in specs]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise SystemSpecError(f"systems {dupes} are listed twice; give each a different name=LABEL option")
    return specs


def _adapter_base(spec: SystemSpec) -> str:
    """The base model file or folder of an adapter system: base= or the catalogue model its manifest names."""
    from rag_app.generators.adapters import read_manifest
    from rag_app.generators.errors import AdapterMismatchError
    from rag_app.models import ModelNotInstalledError, UnknownModelError, model_path

    adapter = Path(spec.adapter)
    if not adapter.is_dir():
        raise SystemSpecError(f"{spec.label}: adapter directory {adapter} does not exist; give the folder a "
                           "fine-tuning run wrote (it holds adapter_config.json and ragqa_adapter.json)")
    try:
        manifest = read_manifest(adapter)
    except AdapterMismatchError as e:
        raise SystemSpecError(f"{spec.label}: {e}") from None
    if spec.base:
        if not Path(spec.base).exists():
            raise SystemSpecError(f"{spec.label}: base model {spec.base} does not exist; fix the base= option")
        return spec.base
    try:
        return str(model_path(manifest.base_model_id))
    except UnknownModelError:
        raise SystemSpecError(f"{spec.label}: the adapter's base model {manifest.base_model_id!r} is not in ragqa's "
                           "catalogue; give its file or folder with the base=PATH option") from None
    except ModelNotInstalledError as e:
        raise SystemSpecError(f"{spec.label}: {e}") from None


def _check_generator(spec: SystemSpec, generator: str) -> None:
    from rag_app.generators.registry import LOCAL_MODELS, parse_spec
    from rag_app.models import is_installed

    try:
        p = parse_spec(generator)
    except ValueError as e:
        raise SystemSpecError(f"{spec.label}: {e}") from None
    if p.kind == "local" and not is_installed(p.model):
        short = next((k for k, v in LOCAL_MODELS.items() if v == p.model), p.model)
        raise SystemSpecError(f"{spec.label}: model {short} is not installed: run `ragqa models install {short}`")
    if p.kind in ("llama-cpp", "hf") and not Path(p.path).exists():
        raise SystemSpecError(f"{spec.label}: model file {p.path} does not exist; fix the path in --systems")
    if p.kind == "hf" and p.adapter and not Path(p.adapter).is_dir():
        raise SystemSpecError(f"{spec.label}: adapter directory {p.adapter} does not exist; fix the path in --systems")


def resolve(spec: SystemSpec) -> SystemSpec:
    """``spec`` with its generator spec filled in, after checking that it can run here: the generator
    spec parses, a local model is installed, an adapter and its base exist."""
    if spec.family == "extractive":
        generator = "extractive"
    elif spec.adapter:
        generator = f"hf:{_adapter_base(spec)}#adapter={spec.adapter}"
    else:
        generator = spec.target
    _check_generator(spec, generator)
    return replace(spec, generator=generator)
