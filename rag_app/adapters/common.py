"""What both framework adapters share: opening a ragqa retriever and describing a hit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from retrieval.factory import MODES
from retrieval.permissions import normalise_groups
from retrieval.types import Filters, Hit, Retriever


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


def check_top_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{name} must be a positive integer (documents to return), got {k!r}")
    return k


def check_groups(groups: Sequence[str] | None) -> list[str]:
    """The caller's groups as given (a list), after checking every name; raises ValueError."""
    if isinstance(groups, str):
        raise ValueError(f"groups must be a list of group names, e.g. [{groups!r}], not a string")
    gs = list(groups or ())
    normalise_groups(gs)  # raises on a bad name
    return gs


def as_filters(value: Any) -> Filters | None:
    """``Filters`` from a Filters, None, or a dict of its fields (a list or a single string for
    ``file_types`` / ``langs``); raises ValueError naming an unknown key or a bad type."""
    if value is None or isinstance(value, Filters):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f"filters must be retrieval.types.Filters, a dict of its fields or None, got {type(value).__name__}"
        )
    allowed = [f.name for f in fields(Filters)]
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"unknown filter keys {unknown}; allowed: {', '.join(allowed)}")
    kw = dict(value)
    for key in ("file_types", "langs"):
        if isinstance(kw.get(key), str):
            kw[key] = (kw[key],)
    return Filters.from_dict(kw)


def open_retriever(index_dir: Path | str | None = None, mode: str = "hybrid") -> Retriever:
    """The ragqa retriever ``mode`` names over the index at ``index_dir``.

    ``index_dir=None`` resolves the index like the CLI does (``RAGQA_INDEX``, ``ragqa.toml``,
    then ``.ragqa``). Cheap: the index, embedder and BM25 load on the first query.
    """
    from ingest.settings import load_index_settings
    from retrieval.factory import make_retriever
    from retrieval.index import IndexReader

    settings = load_index_settings(index_dir=Path(index_dir) if index_dir is not None else None)
    return make_retriever(IndexReader(settings), check_mode(mode))


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """JSON-friendly metadata of one hit, as both adapters attach it to their documents/nodes.

    ``score`` compares only within one result list (see ``retrieval.types.Hit``); ``page`` is
    1-based or None; ``heading`` is the heading path joined with " > ".
    """
    d = hit.to_dict()  # the one JSON form of a hit, flattened for the frameworks' metadata
    c = d["chunk"]
    return {
        "chunk_id": c["id"],
        "doc_id": c["doc_id"],
        "source": c["source"],
        "page": c["page"],
        "heading": hit.chunk.heading,
        "score": d["score"],
        "retriever": d["retriever"],
        "rank": d["rank"],
        "lang": c["lang"],
        "groups": c["groups"],
    }
