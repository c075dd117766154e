"""Generator specs: parse a spec string, build the generator, and pick one automatically.

Specs::

    extractive                              quotes the best context sentences (no model)
    smollm2 | qwen-1.5b                     installed local GGUF models (see ``ragqa models``)
    llama-cpp:/path/model.gguf              any GGUF with llama.cpp
    smollm2#adapter=/path | llama-cpp:...#adapter=/path   + a tuned GGUF LoRA (ragqa finetune)
    hf:/path/model.gguf[#adapter=/path]     transformers (+ optional LoRA adapter)
    openai:<model>                          api.openai.com, key in OPENAI_API_KEY
    openai-compatible:<model>@<base_url>    any OpenAI-compatible server (llama.cpp, vLLM, Ollama...)
    anthropic:<model>                       api.anthropic.com, key in ANTHROPIC_API_KEY
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rag_app.types import Generator

SPEC_FORMS = (
    "extractive",
    "smollm2",
    "qwen-1.5b",
    "llama-cpp:/path/model.gguf",
    "smollm2#adapter=/path/to/adapter",
    "hf:/path/model.gguf[#adapter=/path/to/adapter]",
    "openai:<model>",
    "openai-compatible:<model>@<base_url>",
    "anthropic:<model>",
)
LOCAL_MODELS = {"smollm2": "smollm2-135m-instruct", "qwen-1.5b": "qwen2.5-coder-1.5b-instruct"}
_COMPATIBLE = re.compile(r"(?P<model>.+?)@(?P<url>https?://\S+)")  # model may hold "@"; the URL starts at "@http"


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    kind: str  # extractive | local | llama-cpp | hf | openai | openai-compatible | anthropic
    model: str = ""  # API model name, or local catalogue name
    path: str = ""  # GGUF file / model dir
    base_url: str = ""
    adapter: str = ""


def _bad(spec: str, why: str) -> ValueError:
    return ValueError(f"bad generator spec {spec!r}: {why}; allowed forms: {', '.join(SPEC_FORMS)}")


def parse_spec(spec: str) -> GeneratorSpec:
    """Split a spec string into its parts; ``ValueError`` listing the allowed forms otherwise."""
    s = spec.strip()
    head, sep, frag = s.partition("#")
    if sep and (head in LOCAL_MODELS or head in LOCAL_MODELS.values() or head.startswith("llama-cpp:")):
        key, eq, value = frag.partition("=")
        if key != "adapter" or not eq or not value:
            raise _bad(spec, f"unknown option {frag!r} (only #adapter=/path)")
        return dataclasses.replace(parse_spec(head), adapter=value)
    if s == "extractive":
        return GeneratorSpec("extractive")
    if s in LOCAL_MODELS or s in LOCAL_MODELS.values():
        return GeneratorSpec("local", model=LOCAL_MODELS.get(s, s))
    kind, sep, rest = s.partition(":")
    if not sep:
        raise _bad(spec, "unknown generator")
    rest = rest.strip()
    if not rest:
        raise _bad(spec, f"nothing after '{kind}:'")
    if kind == "llama-cpp":
        return GeneratorSpec("llama-cpp", path=rest)
    if kind == "hf":
        path, _, frag = rest.partition("#")
        adapter = ""
        if frag:
            key, eq, value = frag.partition("=")
            if key != "adapter" or not eq or not value:
                raise _bad(spec, f"unknown hf option {frag!r} (only #adapter=/path)")
            adapter = value
        if not path:
            raise _bad(spec, "hf: needs a model path")
        return GeneratorSpec("hf", path=path, adapter=adapter)
    if kind in ("openai", "anthropic"):
        return GeneratorSpec(kind, model=rest)
    if kind == "openai-compatible":
        m = _COMPATIBLE.fullmatch(rest)
        if not m:
            raise _bad(spec, "expected <model>@http(s)://host:port/v1")
        return GeneratorSpec("openai-compatible", model=m["model"], base_url=m["url"])
    raise _bad(spec, f"unknown generator kind {kind!r}")


def make_generator(spec: str, **options: Any) -> Generator:
    """Build the generator a spec names; ``options`` go to its constructor (e.g. ``timeout``,
    ``n_ctx``). Cheap: models and SDKs load on the first call. The generator's ``name`` is the spec."""
    p = parse_spec(spec)
    name = options.pop("name", spec.strip())
    if p.kind == "extractive":
        from rag_app.generators.extractive import ExtractiveGenerator

        gen: Any = ExtractiveGenerator(**options)
        if getattr(gen, "name", None) != name:
            with contextlib.suppress(AttributeError):  # a frozen generator keeps its own name
                gen.name = name
        return gen
    if p.kind == "local":
        from rag_app.generators.llama_cpp_gen import LlamaCppGenerator
        from rag_app.models import model_path

        return LlamaCppGenerator(model_path(p.model), name=name, adapter_dir=p.adapter or None, **options)
    if p.kind == "llama-cpp":
        from rag_app.generators.llama_cpp_gen import LlamaCppGenerator

        return LlamaCppGenerator(p.path, name=name, adapter_dir=p.adapter or None, **options)
    if p.kind == "hf":
        from rag_app.generators.hf_local import TransformersGenerator

        return TransformersGenerator(p.path, p.adapter or None, name=name, **options)
    if p.kind == "openai":
        from rag_app.generators.openai_compat import OpenAIGenerator

        return OpenAIGenerator(p.model, name=name, **options)
    if p.kind == "openai-compatible":
        from rag_app.generators.openai_compat import OpenAIGenerator

        return OpenAIGenerator(p.model, base_url=p.base_url, name=name, **options)
    from rag_app.generators.anthropic_gen import AnthropicGenerator

    return AnthropicGenerator(p.model, name=name, **options)


# -- automatic choice ---------------------------------------------------------------------------

# Installed local models "auto" may pick, best first: only those that beat the extractive generator
# in benchmarks/bench_answer.py (BENCHMARKS.md, "Answering"). Measured 2026-11-21 on qa.jsonl,
# SQuAD and JSQuAD: answers that hold the gold answer *and* cite its document — extractive
# 0.66 / 0.85 / 0.70, Qwen2.5-Coder-1.5B 0.06 / 0.05 / 0.05 (short answers, rarely cited, 14 s
# to first token), SmolLM2-135M 0 / 0 / 0 (never cites). So none is listed: "auto" answers
# extractively unless an API or server is configured; local models run when named
# (--generator qwen-1.5b). A model that beats extractive in that table goes here.
LOCAL_PREFERENCE: tuple[str, ...] = ()


def _setting(config: Any, key: str) -> str:
    """``config[key]`` or ``config.key`` (a Mapping or any settings object), as a stripped string."""
    if config is None:
        return ""
    value = config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)
    return str(value).strip() if value else ""


def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def auto_generator(config: Any = None, env: Mapping[str, str] | None = None) -> str:
    """The spec "auto" resolves to (build it with ``make_generator``; print it so users see which
    generator answered). ``config``: a Mapping or settings object; ``env`` defaults to os.environ.
    First match wins:

    1. ``config.generator`` or ``$RAGQA_GENERATOR`` (anything but "auto");
    2. ``$RAGQA_OPENAI_BASE_URL`` (or ``config.openai_base_url``): that server, with model
       ``config.openai_model`` / ``$RAGQA_OPENAI_MODEL`` (default "default", which single-model
       servers such as llama.cpp ignore);
    3. ``$OPENAI_API_KEY`` and a configured OpenAI model (``config.openai_model`` / ``$RAGQA_OPENAI_MODEL``);
    4. ``$ANTHROPIC_API_KEY`` and a configured Anthropic model (``config.anthropic_model`` /
       ``$RAGQA_ANTHROPIC_MODEL``);
    5. the best installed local model llama.cpp can run, among those measured better than
       extractive (``LOCAL_PREFERENCE``: none today, see its comment);
    6. "extractive".
    """
    from rag_app.models import is_installed

    env = os.environ if env is None else env
    explicit = _setting(config, "generator") or env.get("RAGQA_GENERATOR", "").strip()
    if explicit and explicit != "auto":
        parse_spec(explicit)  # fail here, naming the bad setting's value
        return explicit
    openai_model = _setting(config, "openai_model") or env.get("RAGQA_OPENAI_MODEL", "").strip()
    base_url = _setting(config, "openai_base_url") or env.get("RAGQA_OPENAI_BASE_URL", "").strip()
    if base_url:
        return f"openai-compatible:{openai_model or 'default'}@{base_url}"
    if env.get("OPENAI_API_KEY", "").strip() and openai_model:
        return f"openai:{openai_model}"
    anthropic_model = _setting(config, "anthropic_model") or env.get("RAGQA_ANTHROPIC_MODEL", "").strip()
    if env.get("ANTHROPIC_API_KEY", "").strip() and anthropic_model:
        return f"anthropic:{anthropic_model}"
    if llama_cpp_available():
        for short in LOCAL_PREFERENCE:
            if is_installed(LOCAL_MODELS[short]):
                return short
    return "extractive"
