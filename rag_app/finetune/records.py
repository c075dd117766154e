"""Training records as data, and their file forms.

- ``SFTRecord``: chat messages built by ``rag_app.build_prompt`` (the answer path's own
  builder) + the target answer. On disk as trl's conversational prompt/completion form
  (``{"prompt": [messages], "completion": [assistant message]}``) and as Alpaca
  (``instruction`` = system rules, ``input`` = the user turn, ``output`` = the target).
- ``PreferencePair``: the same prompt with a chosen and a rejected answer (trl's DPO form).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.types import Message

KINDS = ("raft", "refusal", "closed_book", "feedback", "generated")


@dataclass(frozen=True, slots=True)
class SFTRecord:
    """``messages``: [system, user] (closed-book: [user]); ``target``: the assistant's answer.
    ``oracle_n``: the block number holding the answer (None: no oracle shown); ``meta``:
    provenance (qid, origin file, group, chunk ids of the blocks...)."""

    messages: tuple[Message, ...]
    target: str
    kind: str  # one of KINDS
    lang: str
    split: str
    origin: str
    template_version: str
    oracle_n: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_trl(self) -> dict[str, Any]:
        return {"prompt": [m.to_dict() for m in self.messages],
                "completion": [{"role": "assistant", "content": self.target}],
                "meta": {"kind": self.kind, "lang": self.lang, "split": self.split, "origin": self.origin,
                         "template_version": self.template_version, "oracle_n": self.oracle_n, **self.meta}}

    def to_alpaca(self) -> dict[str, str]:
        system = next((m.content for m in self.messages if m.role == "system"), "")
        user = "\n\n".join(m.content for m in self.messages if m.role == "user")
        return {"instruction": system or user, "input": user if system else "", "output": self.target}


@dataclass(frozen=True, slots=True)
class PreferencePair:
    messages: tuple[Message, ...]
    chosen: str
    rejected: str
    lang: str
    split: str
    origin: str
    template_version: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_trl(self) -> dict[str, Any]:
        return {"prompt": [m.to_dict() for m in self.messages],
                "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}],
                "meta": {"lang": self.lang, "split": self.split, "origin": self.origin,
                         "template_version": self.template_version, **self.meta}}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_alpaca(path: Path, records: Sequence[SFTRecord]) -> int:
    Path(path).write_text(json.dumps([r.to_alpaca() for r in records], ensure_ascii=False, indent=1) + "\n",
                          encoding="utf-8")
    return len(records)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a file this module wrote (blank lines skipped)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
