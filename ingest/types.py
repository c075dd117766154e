"""Typed data that flows out of ingestion: blocks from loaders, documents, chunks.

The canonical text of a document is ``BLOCK_SEPARATOR.join(block.text for block in blocks)``.
Every span in ragqa (a block's, a chunk's) is a pair of character offsets into that text,
so ``document_text[chunk.start:chunk.end] == chunk.text`` always holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

BLOCK_SEPARATOR = "\n\n"

BlockKind = Literal["heading", "paragraph", "table_header", "table_row", "list_item", "code", "text"]
BLOCK_KINDS: tuple[str, ...] = (
    "heading",
    "paragraph",
    "table_header",
    "table_row",
    "list_item",
    "code",
    "text",
)


@dataclass(frozen=True, slots=True)
class DocumentHints:
    """What a loader learnt about the whole document that is not in its blocks' text.

    ``title``: the file's own metadata title (a PDF's /Title), as written there.
    ``running_lines``: the running header and footer lines the loader left out of the blocks
    (:mod:`ingest.boilerplate`), as printed on the first page that has each, in page order.
    """

    title: str | None = None
    running_lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit a loader found, in reading order.

    ``page`` is 1-based: the PDF page, the PPTX slide, or for spreadsheets the 1-based sheet
    index (the sheet name goes in ``sheet``). ``heading_path`` is the chain of headings above
    the block, outermost first (for a heading block it includes the heading itself).
    ``table_id`` groups a table's header and rows so the chunker can keep them together.
    ``document``: set on a document's first block only, by loaders that know more about the
    document than its text (see :class:`DocumentHints`); None everywhere else.
    """

    text: str
    kind: str = "paragraph"
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    sheet: str | None = None
    table_id: str | None = None
    document: DocumentHints | None = None


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """What is known about a source file before its blocks are read.

    ``source`` is the path relative to the ingested root, with ``/`` separators.
    ``groups`` are the access groups allowed to see the document (``("public",)`` when open).
    """

    doc_id: str
    source: str
    file_type: str
    content_hash: str
    size_bytes: int
    groups: tuple[str, ...] = ("public",)
    title: str | None = None
    lang: str | None = None  # "ja" | "en" | None (detected per chunk when None)
    date: str | None = None  # ISO date "YYYY-MM-DD" when known
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded document: metadata plus its blocks.

    ``blocks`` may be a lazy iterator for very large files (read once, bounded memory);
    loaders for small formats return a tuple.
    """

    meta: DocumentMeta
    blocks: Iterable[Block]

    def iter_blocks(self) -> Iterator[Block]:
        return iter(self.blocks)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A token-bounded piece of one document: the unit that is embedded, indexed and cited.

    ``start``/``end`` are character offsets into the document's canonical text (see module
    docstring). ``page`` is the page/slide/sheet index of the chunk's first block.
    ``doc_context``: one short line saying which document the chunk comes from (title, issuer,
    form, period, file name; :mod:`ingest.doc_context`), the same for every chunk of a
    document and kept out of ``text``; embedded and BM25-indexed with it (``embedding_text``).
    """

    id: str
    doc_id: str
    text: str
    source: str
    start: int
    end: int
    ordinal: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    sheet: str | None = None
    lang: str = "en"
    content_hash: str = ""
    groups: tuple[str, ...] = ("public",)
    file_type: str = ""
    date: str | None = None
    n_tokens: int = 0
    doc_context: str = ""

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    def embedding_text(self) -> str:
        """Text given to the embedder and to BM25: the document context, the heading path, then
        the chunk text, one per line (a part that is empty, or a heading the text starts with,
        is left out)."""
        head = self.heading
        if not head or self.text.startswith(self.heading_path[-1]):
            head = ""
        return "\n".join(part for part in (self.doc_context, head, self.text) if part)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists); ``Chunk.from_dict`` inverts it."""
        return {
            "id": self.id, "doc_id": self.doc_id, "text": self.text, "source": self.source,
            "start": self.start, "end": self.end, "ordinal": self.ordinal, "page": self.page,
            "heading_path": list(self.heading_path), "sheet": self.sheet, "lang": self.lang,
            "content_hash": self.content_hash, "groups": list(self.groups), "file_type": self.file_type,
            "date": self.date, "n_tokens": self.n_tokens, "doc_context": self.doc_context,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        data = dict(d)
        data["heading_path"] = tuple(data.get("heading_path") or ())
        data["groups"] = tuple(data.get("groups") or ("public",))
        return cls(**data)
