"""The data card written beside the training files: what went in (files, sha256, licences),
what came out (counts per source, language, split and kind; file hashes), the prompt template
version and the problems skipped. Its own sha256 goes into each adapter's manifest."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag_app.prompting import PROMPT_TEMPLATE_VERSION

from .records import PreferencePair, SFTRecord
from .sources import Issue, Read

CARD_FILE = "data_card.json"
CARD_FORMAT_VERSION = 1


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def count_records(records: Sequence[SFTRecord | PreferencePair]) -> list[dict[str, Any]]:
    """Rows ``{origin, lang, split, kind, n}``, sorted."""
    counts = Counter((r.origin, r.lang, r.split, r.kind if isinstance(r, SFTRecord) else "preference")
                     for r in records)
    return [{"origin": o, "lang": lang, "split": s, "kind": k, "n": n}
            for (o, lang, s, k), n in sorted(counts.items())]


def build_card(reads: Sequence[Read], records: Sequence[SFTRecord | PreferencePair], files: dict[str, Path],
               issues: Sequence[Issue], settings: dict[str, Any], splits: dict[str, str]) -> dict[str, Any]:
    """``splits``: group (document / article) -> "train" | "valid", listed per split in the card."""
    return {
        "format_version": CARD_FORMAT_VERSION,
        "template_version": PROMPT_TEMPLATE_VERSION,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "sources": [{"path": str(r.path), "kind": r.kind, "license": r.license, "records_read": r.lines,
                     "sha256": sha256_of(r.path) if r.path.is_file() else None,
                     "issues": len(r.issues)} for r in reads],
        "counts": count_records(records),
        "totals": dict(Counter(r.split for r in records)),
        "splits": {s: sorted(g for g, v in splits.items() if v == s) for s in sorted(set(splits.values()))},
        "files": {name: {"path": p.name, "sha256": sha256_of(p)} for name, p in files.items()},
        "settings": settings,
        "issues": [{"where": i.where, "reason": i.reason} for i in issues],
    }


def write_card(out_dir: Path, card: dict[str, Any]) -> Path:
    path = Path(out_dir) / CARD_FILE
    path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_card(data_dir: Path) -> dict[str, Any]:
    """The data card of a data directory; checked for its format and template version."""
    path = Path(data_dir) / CARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build the data first with `ragqa finetune data --out {data_dir}`")
    card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if card.get("format_version") != CARD_FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {card.get('format_version')!r}; this ragqa reads "
                         f"{CARD_FORMAT_VERSION}: rebuild it with `ragqa finetune data`")
    if card.get("template_version") != PROMPT_TEMPLATE_VERSION:
        raise ValueError(f"{path}: built with prompt template {card.get('template_version')!r}, but the answer "
                         f"path now uses {PROMPT_TEMPLATE_VERSION!r}: rebuild the data with `ragqa finetune data` "
                         "so the model is trained on the prompts it will be served")
    return card
