"""Label-free training pairs for a two-tower retriever, built from an index's chunks.

Three sources of (query, positive passage) pairs:

- **inverse cloze** (``"ict"``): a sentence drawn from a chunk is the query, the chunk is the
  positive. With probability ``remove_prob`` the sentence is cut out of the passage, so the
  model must learn what the sentence is *about* rather than find the same string again;
- **headings** (``"heading"``): the innermost heading (with its parent when it is very short)
  is the query for the first chunk under it; every chunk under that heading counts as relevant;
- **gold** (``"gold"``): questions from a QA file in the ``docs_corpus/qa.jsonl`` format, whose
  positives are the chunks of ``source`` that contain ``answer``.

Everything is deterministic for a given seed: each chunk draws its sentences from its own
random generator seeded by ``(seed, chunk id)``, so adding a document does not reshuffle the
pairs of the others. :func:`split_pairs` holds out whole documents, so no passage of a held-out
document is seen in training.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.sentences import split_sentences
from ingest.types import Chunk

PairKind = Literal["ict", "heading", "gold"]
PAIR_KINDS: tuple[str, ...] = ("ict", "heading", "gold")


@dataclass(frozen=True, slots=True)
class Pair:
    """One training/evaluation example.

    ``passage`` is the text the model is trained on as the positive (for ICT it may lack the
    query sentence). ``relevant`` are the chunk ids that answer the query, the training positive
    ``relevant[0]`` first; evaluation counts a hit when any of them is retrieved.
    """

    query: str
    passage: str
    relevant: tuple[str, ...]
    doc_id: str
    kind: str
    lang: str
    answer: str = ""  # gold pairs: the answer text (a passage holding it is no safe negative)

    @property
    def chunk_id(self) -> str:
        return self.relevant[0]


@dataclass(frozen=True, slots=True)
class PairConfig:
    """Knobs of :func:`build_pairs`. Lengths are in characters of the stripped query."""

    ict_per_chunk: int = 2  # sentences drawn per chunk as ICT queries
    remove_prob: float = 0.9  # chance an ICT query sentence is cut out of its passage
    min_query_chars: int = 8
    max_query_chars: int = 300
    min_text_ratio: float = 0.5  # share of letters/digits/CJK in a query ("| --- | --- |" fails)
    headings: bool = True
    max_pairs: int | None = None  # cap after mixing languages; None = all
    langs: tuple[str, ...] = field(default=())  # keep only these chunk languages; () = all

    def __post_init__(self) -> None:
        if not 0.0 <= self.remove_prob <= 1.0:
            raise ValueError(f"remove_prob must be in [0, 1], got {self.remove_prob}")
        if self.ict_per_chunk < 0:
            raise ValueError(f"ict_per_chunk must be ≥ 0, got {self.ict_per_chunk}")
        if not 1 <= self.min_query_chars <= self.max_query_chars:
            raise ValueError(
                f"need 1 ≤ min_query_chars ≤ max_query_chars, got {self.min_query_chars}, {self.max_query_chars}"
            )
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"max_pairs must be ≥ 1 or None, got {self.max_pairs}")


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts`` that is the same in every process (unlike ``hash``)."""
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big")


def _is_text_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch) == "Lo"


def usable_query(text: str, cfg: PairConfig) -> bool:
    """Long enough, short enough and mostly words (not a table rule or a row of numbers)."""
    n = len(text)
    if not cfg.min_query_chars <= n <= cfg.max_query_chars:
        return False
    non_space = [c for c in text if not c.isspace()]
    if not non_space:
        return False
    text_chars = sum(1 for c in non_space if _is_text_char(c))
    letters = sum(1 for c in non_space if c.isalpha())
    return text_chars / len(non_space) >= cfg.min_text_ratio and letters >= 2


def ict_pairs(chunk: Chunk, cfg: PairConfig, seed: int) -> list[Pair]:
    """Inverse-cloze pairs of one chunk: up to ``cfg.ict_per_chunk`` of its sentences as queries.

    The passage is the chunk's embedding text (heading path + text, as indexed); a query
    sentence is removed from it with probability ``cfg.remove_prob``. Chunks with fewer than
    two sentences give nothing (removing the only sentence would leave no passage).
    """
    if cfg.ict_per_chunk == 0:
        return []
    text = chunk.text
    spans = split_sentences(text)
    if len(spans) < 2:
        return []
    candidates = [(s, e) for s, e in spans if usable_query(text[s:e].strip(), cfg)]
    if not candidates:
        return []
    rng = random.Random(stable_seed(seed, "ict", chunk.id))
    picked = rng.sample(candidates, min(cfg.ict_per_chunk, len(candidates)))
    head = chunk.heading
    out: list[Pair] = []
    for s, e in sorted(picked):
        query = text[s:e].strip()
        body = (text[:s] + text[e:]).strip() if rng.random() < cfg.remove_prob else text
        if not body:
            continue
        passage = f"{head}\n{body}" if head and not body.startswith(chunk.heading_path[-1]) else body
        out.append(Pair(query, passage, (chunk.id,), chunk.doc_id, "ict", chunk.lang))
    return out


def heading_query(path: Sequence[str], cfg: PairConfig) -> str | None:
    """The innermost heading, with its parent prefixed when it alone is shorter than allowed."""
    if not path:
        return None
    q = path[-1].strip().lstrip("#").strip()
    if len(q) < cfg.min_query_chars and len(path) > 1:
        q = f"{path[-2].strip()} {q}".strip()
    return q if usable_query(q, cfg) else None


def heading_pairs(chunks: Sequence[Chunk], cfg: PairConfig) -> list[Pair]:
    """One pair per (document, heading path): heading -> first chunk under it (text only, the
    heading line itself removed so the answer is not a copy of the query)."""
    groups: dict[tuple[str, tuple[str, ...]], list[Chunk]] = defaultdict(list)
    for c in chunks:
        if c.heading_path:
            groups[(c.doc_id, c.heading_path)].append(c)
    out: list[Pair] = []
    for (doc_id, path), members in groups.items():
        members.sort(key=lambda c: c.ordinal)
        q = heading_query(path, cfg)
        if q is None:
            continue
        first = members[0]
        body = first.text
        if body.startswith(path[-1]):
            body = body[len(path[-1]) :].strip()
        if len(body) < cfg.min_query_chars:  # the heading is all there is
            continue
        out.append(Pair(q, body, tuple(c.id for c in members), doc_id, "heading", first.lang))
    return out


def norm_text(s: str) -> str:
    """NFKC, no whitespace: "５０，０００ 円" and "50,000円" compare equal."""
    return "".join(unicodedata.normalize("NFKC", s).split())


def read_qa_file(path: Path) -> list[dict[str, object]]:
    """Rows of a JSONL QA file (``question``, ``answer``, ``source``, optional ``answerable``)."""
    rows: list[dict[str, object]] = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e}); expected one object per line") from e
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def gold_pairs(chunks: Sequence[Chunk], qa_rows: Iterable[Mapping[str, object]]) -> list[Pair]:
    """Question -> the chunks of its ``source`` whose text contains its ``answer``.

    Rows that are unanswerable, lack a question/answer/source, or whose answer is in no chunk of
    that source are skipped. ``source`` matches a chunk's source exactly or as a path suffix
    (an index built from a parent folder prefixes the sources).
    """
    by_source: dict[str, list[Chunk]] = defaultdict(list)
    for c in chunks:
        by_source[c.source].append(c)
    out: list[Pair] = []
    for row in qa_rows:
        q, a, src = row.get("question"), row.get("answer"), row.get("source")
        if row.get("answerable") is False or not (isinstance(q, str) and isinstance(a, str) and isinstance(src, str)):
            continue
        if not (q.strip() and a.strip()):
            continue
        cands = by_source.get(src) or [
            c for s, cs in by_source.items() if s.endswith("/" + src) for c in cs
        ]
        ans = norm_text(a)
        hits = sorted((c for c in cands if ans in norm_text(c.text)), key=lambda c: (c.doc_id, c.ordinal))
        if not hits:
            continue
        lang = row.get("lang")
        out.append(Pair(q.strip(), hits[0].embedding_text(), tuple(c.id for c in hits), hits[0].doc_id, "gold",
                        lang if isinstance(lang, str) else hits[0].lang, a.strip()))
    return out


def mix_languages(pairs: Sequence[Pair], seed: int, max_pairs: int | None = None) -> list[Pair]:
    """Shuffle within each language, then interleave the languages round-robin and cut at
    ``max_pairs``: a small cap still gets every language while the rarer ones last."""
    by_lang: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        by_lang[p.lang].append(p)
    queues = []
    for lang in sorted(by_lang):
        items = by_lang[lang]
        random.Random(stable_seed(seed, "mix", lang)).shuffle(items)
        queues.append(items)
    out: list[Pair] = []
    i = 0
    while any(i < len(q) for q in queues):
        out.extend(q[i] for q in queues if i < len(q))
        i += 1
    return out if max_pairs is None else out[:max_pairs]


def build_pairs(
    chunks: Iterable[Chunk],
    *,
    seed: int = 0,
    config: PairConfig | None = None,
    qa_rows: Iterable[Mapping[str, object]] | None = None,
) -> list[Pair]:
    """All pairs of ``chunks`` (ICT + headings + gold), languages mixed, deduplicated by
    (query, positive), deterministic for ``seed``. Gold pairs are never cut by ``max_pairs``."""
    cfg = config or PairConfig()
    chs = [c for c in chunks if not cfg.langs or c.lang in cfg.langs]
    chs.sort(key=lambda c: (c.doc_id, c.ordinal, c.id))
    synthetic: list[Pair] = []
    for c in chs:
        synthetic.extend(ict_pairs(c, cfg, seed))
    if cfg.headings:
        synthetic.extend(heading_pairs(chs, cfg))
    gold = gold_pairs(chs, qa_rows) if qa_rows is not None else []
    seen: set[tuple[str, str]] = set()
    unique: list[Pair] = []
    for p in [*gold, *synthetic]:
        key = (p.query, p.chunk_id)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return cap_pairs(unique, cfg.max_pairs, seed)


def cap_pairs(pairs: Sequence[Pair], max_pairs: int | None, seed: int) -> list[Pair]:
    """Gold pairs first (all of them), then the synthetic ones with languages mixed, cut so the
    total is at most ``max_pairs`` (None: no cut)."""
    gold = [p for p in pairs if p.kind == "gold"]
    rest = [p for p in pairs if p.kind != "gold"]
    cap = None if max_pairs is None else max(max_pairs - len(gold), 0)
    return mix_languages(gold, seed) + mix_languages(rest, seed, cap)


def split_pairs(
    pairs: Sequence[Pair], holdout: float = 0.2, seed: int = 0, by: Literal["doc", "pair"] = "doc"
) -> tuple[list[Pair], list[Pair]]:
    """(train, held_out). ``by="doc"``: ``ceil(holdout × documents)`` whole documents are held out
    (at least one, and one is always left for training when there are two or more), so no
    document contributes to both sides. ``by="pair"`` splits pairs at random (leaks; for tests)."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    if by not in ("doc", "pair"):
        raise ValueError(f"by must be 'doc' or 'pair', got {by!r}")
    if by == "pair":
        idx = list(range(len(pairs)))
        random.Random(stable_seed(seed, "split-pair")).shuffle(idx)
        n_hold = math.ceil(holdout * len(idx))
        held_idx = set(idx[:n_hold])
        return ([p for i, p in enumerate(pairs) if i not in held_idx], [pairs[i] for i in sorted(held_idx)])
    docs = sorted({p.doc_id for p in pairs})
    random.Random(stable_seed(seed, "split-doc")).shuffle(docs)
    n_hold = min(max(math.ceil(holdout * len(docs)), 1), max(len(docs) - 1, 1)) if docs else 0
    held_docs = set(docs[:n_hold])
    train = [p for p in pairs if p.doc_id not in held_docs]
    held = [p for p in pairs if p.doc_id in held_docs]
    return train, held


def no_duplicate_batches(
    pairs: Sequence[Pair],
    batch_size: int,
    seed: int,
    negatives: Sequence[tuple[str, str] | None] | None = None,
) -> list[list[int]]:
    """Shuffled batches of pair indices in which no two pairs share a query, a positive chunk or
    a passage text: with in-batch negatives a duplicate would be a false negative.

    ``negatives`` (aligned with ``pairs``; (chunk id, passage text) or None): hard negatives.
    Then a pair's negative must also not be another pair's positive chunk or passage in the
    batch, and pairs with a negative and pairs without are batched apart (every row of a batch
    fed to the loss as triplets needs a negative), the two sets of batches interleaved by a
    seeded shuffle. Without ``negatives`` there is one set, filled in the seeded pair order.

    A pair that clashes with the batch being filled waits for the next one; every pair lands
    in exactly one batch. The last batch (of each set) may be smaller.
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be ≥ 2 for in-batch negatives, got {batch_size}")
    if negatives is not None and len(negatives) != len(pairs):
        raise ValueError(f"negatives must be aligned with pairs: {len(negatives)} negatives for {len(pairs)} pairs")
    order = list(range(len(pairs)))
    random.Random(stable_seed(seed, "batches")).shuffle(order)
    if negatives is None:
        return _fill_batches(pairs, order, batch_size, None)
    with_neg = [i for i in order if negatives[i] is not None]
    without = [i for i in order if negatives[i] is None]
    batches = _fill_batches(pairs, with_neg, batch_size, negatives) + _fill_batches(pairs, without, batch_size, None)
    random.Random(stable_seed(seed, "batches-hardneg")).shuffle(batches)
    return batches


def _fill_batches(
    pairs: Sequence[Pair], order: list[int], batch_size: int, negatives: Sequence[tuple[str, str] | None] | None
) -> list[list[int]]:
    batches: list[list[int]] = []
    pending = order
    while pending:
        batch: list[int] = []
        keys: set[str] = set()
        rest: list[int] = []
        for i in pending:
            p = pairs[i]
            mine = {"q:" + p.query, "p:" + p.passage, *("c:" + r for r in p.relevant)}
            # a clash: shared query/passage/chunk, or my negative is a positive here, or the reverse
            clash = {*mine, *("nc:" + r for r in p.relevant), "np:" + p.passage}
            neg = negatives[i] if negatives is not None else None
            if neg is not None:
                clash |= {"c:" + neg[0], "p:" + neg[1]}
                mine |= {"nc:" + neg[0], "np:" + neg[1]}
            if len(batch) < batch_size and not (clash & keys):
                batch.append(i)
                keys |= mine
            else:
                rest.append(i)
        batches.append(batch)
        pending = rest
    return batches


def count_by(pairs: Iterable[Pair], attr: Literal["kind", "lang"]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in pairs:
        out[getattr(p, attr)] += 1
    return dict(sorted(out.items()))


__all__ = [
    "PAIR_KINDS",
    "Pair",
    "PairConfig",
    "build_pairs",
    "cap_pairs",
    "count_by",
    "gold_pairs",
    "heading_pairs",
    "heading_query",
    "ict_pairs",
    "mix_languages",
    "no_duplicate_batches",
    "read_qa_file",
    "split_pairs",
    "stable_seed",
    "usable_query",
]
