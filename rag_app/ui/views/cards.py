"""Source cards: document name, where in it, heading path, score, the passage with the cited
sentences highlighted, the cited PDF page as an image, and the original file for download.

Everything on a card comes from a hit the retrieval returned for the user's groups; the title
and the file are looked up again with the same groups (``DocumentLibrary.get``), so a card never
shows what its reader may not see, even if a hit were handed in from elsewhere.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from rag_app.ui.pdf_pages import RenderedPage, render_cited_page
from rag_app.ui.sources import SourceCard, anchor_id, highlight_html
from rag_app.ui.views.context import PageContext
from retrieval.types import Hit

MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # larger originals are not offered from the page


@st.cache_data(show_spinner=False, max_entries=64)
def _rendered(path: str, mtime_ns: int, page: int | None, passages: tuple[str, ...]) -> RenderedPage | None:
    """The cited page, cached per file version; None when pdfium cannot read the file."""
    try:
        return render_cited_page(path, page, passages)
    except Exception:  # a PDF pdfium cannot open: the card shows the text only
        return None


def _score_text(hit: Hit) -> str:
    parts = [f"score {hit.score:.3f} ({hit.retriever})"]
    if hit.dense_score is not None:
        parts.append(f"cosine {hit.dense_score:.3f}")
    if hit.bm25_score is not None:
        parts.append(f"BM25 {hit.bm25_score:.2f}")
    return " · ".join(parts)


def render_card(ctx: PageContext, card: SourceCard, turn_id: int, *, expanded: bool, show_page: bool) -> None:
    chunk = card.hit.chunk
    doc = ctx.res.library.get(chunk.doc_id, ctx.groups)
    if doc is None:  # not the reader's: nothing about it is shown
        return
    where = f" — {card.location}" if card.location else ""
    st.markdown(f'<div id="{anchor_id(turn_id, card.n)}" class="ragqa-source"></div>', unsafe_allow_html=True)
    with st.expander(f"[{card.n}] {doc.name}{where}", expanded=expanded):
        meta = [f"`{chunk.source}`"] + ([card.location] if card.location else [])
        if chunk.heading:
            meta.append(chunk.heading)
        st.caption(" · ".join(meta) + " · " + _score_text(card.hit))
        st.markdown(f'<div class="ragqa-passage">{highlight_html(chunk.text, card.spans)}</div>',
                    unsafe_allow_html=True)
        path = ctx.res.library.file_for(chunk.doc_id, ctx.groups)
        if path is not None and show_page and chunk.file_type == "pdf":
            _pdf_page(path, chunk.page, card.cited_text or [chunk.text])
        if path is not None:
            _download(ctx, chunk.doc_id, path, key=f"dl-{turn_id}-{card.n}")


def _pdf_page(path: Path, page: int | None, passages: Sequence[str]) -> None:
    shown = _rendered(str(path), path.stat().st_mtime_ns, page, tuple(passages))
    if shown is None:
        st.caption("The page could not be rendered (the PDF is unreadable now); the passage above is what was indexed.")
        return
    note = "the cited passage is highlighted" if shown.found else "the passage could not be located on the page"
    st.image(shown.png, caption=f"Page {shown.page} of {shown.pages} — {note}", width="stretch")


def _download(ctx: PageContext, doc_id: str, path: Path, key: str) -> None:
    size = path.stat().st_size
    if size > MAX_DOWNLOAD_BYTES:
        st.caption(f"The original ({size / 2**20:,.0f} MB) is too large to download from the page.")
        return
    library, groups = ctx.res.library, ctx.groups

    def data() -> bytes:  # run on click: the permission is checked again then
        p = library.file_for(doc_id, groups)
        return p.read_bytes() if p is not None else b""

    st.download_button("Download the original", data=data, file_name=path.name,
                       mime=mimetypes.guess_type(path.name)[0] or "application/octet-stream", key=key,
                       on_click="ignore")


def render_cards(ctx: PageContext, cards: Sequence[SourceCard], turn_id: int) -> None:
    """Cited cards open (PDF pages rendered), the other context blocks folded below them."""
    cited = [c for c in cards if c.cited]
    others = [c for c in cards if not c.cited]
    for c in cited:
        render_card(ctx, c, turn_id, expanded=True, show_page=True)
    if others:
        with st.container():
            st.caption("Other passages given to the model" if cited else "Passages found")
            for c in others:
                render_card(ctx, c, turn_id, expanded=False, show_page=False)
