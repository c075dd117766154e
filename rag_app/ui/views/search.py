"""The Search page: the retriever's passages for a query, without an answer."""

from __future__ import annotations

import itertools

import streamlit as st

from rag_app.ui.chat import question_problem
from rag_app.ui.sources import SourceCard
from rag_app.ui.views.cards import render_card
from rag_app.ui.views.context import PageContext

_search_ids = itertools.count(1_000_000)  # card anchors distinct from the chat's turn ids


def render(ctx: PageContext) -> None:
    with st.form("search"):
        query = st.text_input("Search the documents", key="search_query")
        go = st.form_submit_button("Search")
    if not go:
        return
    problem = question_problem(query, ctx.res.config.max_question_chars)
    if problem:
        st.warning(problem.replace("question", "query"))
        return
    with st.spinner("Searching the documents…"):  # the first search of a process loads the embedder
        hits = ctx.rag.search(query, groups=ctx.groups, filters=ctx.filters)
    if not hits:
        st.info("Nothing found in the documents you may see" + (" with these filters." if ctx.filters else "."))
        return
    sid = next(_search_ids)
    for i, h in enumerate(hits, start=1):
        render_card(ctx, SourceCard(n=i, hit=h, cited=False), sid, expanded=i == 1, show_page=h.chunk.file_type == "pdf")
