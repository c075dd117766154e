"""Index settings: one typed object, read from ``ragqa.toml`` (optional) and ``RAGQA_*`` variables.

Precedence, lowest to highest: defaults here < ``ragqa.toml`` ``[index]`` table < environment <
explicit arguments (CLI flags). Secrets are never read from files: API keys come from the
environment only (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

CONFIG_FILE_ENV = "RAGQA_CONFIG"
DEFAULT_CONFIG_FILE = "ragqa.toml"


@dataclass(frozen=True)
class IndexSettings:
    index_dir: Path = Path(".ragqa")  # RAGQA_INDEX; holds catalog.sqlite, chroma/, keyword/
    embedder: str = "e5"  # RAGQA_EMBEDDER; see ingest.embedders for specs
    chunk_tokens: int = 256  # max tokens per chunk, counted by the embedder's tokenizer
    chunk_overlap: int = 32  # tokens repeated between consecutive pieces of one long section
    analyzer: str = "default"  # BM25 analyzer; "default" = Japanese (Sudachi) + English stemming
    chroma_url: str | None = None  # RAGQA_CHROMA_URL, e.g. http://127.0.0.1:8000 for a Chroma server
    collection: str = "ragqa"  # Chroma collection name (3-512 chars of [a-zA-Z0-9._-])
    embed_batch: int = 32  # texts per embedder call: big enough to keep both cores busy

    def __post_init__(self) -> None:
        if not isinstance(self.index_dir, Path):  # IndexSettings(index_dir=".ragqa") from user code
            object.__setattr__(self, "index_dir", Path(self.index_dir))

    def with_overrides(self, **kw: Any) -> IndexSettings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_ENV = {
    "index_dir": "RAGQA_INDEX",
    "embedder": "RAGQA_EMBEDDER",
    "chroma_url": "RAGQA_CHROMA_URL",
    "collection": "RAGQA_COLLECTION",
    "chunk_tokens": "RAGQA_CHUNK_TOKENS",
    "chunk_overlap": "RAGQA_CHUNK_OVERLAP",
}


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The whole ``ragqa.toml`` as a dict ({} when there is none)."""
    p = path or Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
    if not p.is_file():
        if path is not None:
            raise FileNotFoundError(f"config file not found: {p}")
        return {}
    with p.open("rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"invalid TOML in {p}: {e}") from e


def _coerce(name: str, raw: Any) -> Any:
    types = {f.name: f.type for f in fields(IndexSettings)}
    t = str(types[name])
    if name == "index_dir":
        return Path(raw).expanduser()
    if t == "int":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"setting {name} must be an integer, got {raw!r}") from None
    return None if raw in ("", None) else str(raw)


def load_index_settings(config_file: Path | None = None, **overrides: Any) -> IndexSettings:
    data = read_config_file(config_file).get("index", {})
    known = {f.name for f in fields(IndexSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown [index] settings {unknown} in ragqa.toml; allowed: {sorted(known)}")
    values: dict[str, Any] = {k: _coerce(k, v) for k, v in data.items()}
    for name, env in _ENV.items():
        if env in os.environ:
            values[name] = _coerce(name, os.environ[env])
    for k, v in overrides.items():
        if v is not None:
            values[k] = _coerce(k, v) if k in known else v
    s = IndexSettings(**values)
    if s.chunk_overlap >= s.chunk_tokens:
        raise ValueError(f"chunk_overlap ({s.chunk_overlap}) must be smaller than chunk_tokens ({s.chunk_tokens})")
    return s
