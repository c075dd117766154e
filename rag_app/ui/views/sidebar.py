"""The sidebar: who is signed in, which page, the answer settings and the filters.

Filter choices (folders, file types, dates) are taken only from documents the user may see; the
languages offered are the ones ragqa tells apart, whatever the index holds (the index's own list
counts restricted documents' chunks too).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from ingest.lang import LANGS
from rag_app.ui.documents import filter_choices
from rag_app.ui.resources import PageResources
from rag_app.ui.settings import (
    ADAPTER_KINDS,
    GENERATOR_KINDS,
    MODES,
    TOP_K_RANGE,
    PageSettings,
    generator_spec,
    key_notice,
    split_spec,
)
from rag_app.ui.users import User
from retrieval.types import Filters

ALL_FOLDERS = "(all folders)"


def page_choice(user: User) -> str:
    pages = ["Ask", "Search"] + (["Documents", "Feedback", "Reports"] if user.admin else [])
    return str(st.sidebar.radio("Page", pages, key="page"))


def settings(res: PageResources) -> PageSettings:
    base = res.rag.config.answer
    kinds = list(GENERATOR_KINDS)
    kind0, detail0, adapter0 = split_spec(base.generator)
    with st.sidebar.expander("Answer settings", expanded=False):
        kind = st.selectbox("Generator", kinds, index=kinds.index(kind0), key="gen_kind",
                            help="extractive quotes the passages (no model); smollm2 / qwen-1.5b are local "
                                 "models (`ragqa models install`); hf: a tuned adapter; the rest call a server.")
        detail = ""
        if GENERATOR_KINDS[kind]:
            detail = st.text_input(GENERATOR_KINDS[kind], value=detail0 if kind == kind0 else "", key="gen_detail")
        adapter = ""
        if kind in ADAPTER_KINDS:
            adapter = st.text_input("Tuned adapter folder (optional: `ragqa finetune export-gguf`)",
                                    value=adapter0 if kind == kind0 else "", key="gen_adapter")
        notice = key_notice(kind)
        if notice:
            st.caption(notice)
        mode = st.selectbox("Retrieval", MODES, index=MODES.index(base.mode) if base.mode in MODES else 0, key="mode")
        top_k = st.slider("Passages given to the model (top-k)", *TOP_K_RANGE,
                          value=min(max(base.top_k, TOP_K_RANGE[0]), TOP_K_RANGE[1]), key="top_k")
    try:
        spec = generator_spec(kind, detail, adapter)
    except ValueError as e:
        st.sidebar.error(f"{e}. Answering with {base.generator} until it is fixed.")
        spec = base.generator
    return PageSettings(generator=spec, mode=str(mode), top_k=int(top_k))


def filters(res: PageResources, user: User) -> Filters | None:
    from rag_app.ui.settings import make_filters

    choices = filter_choices(res.library.visible(user.groups))
    with st.sidebar.expander("Filters", expanded=False):
        folder = st.selectbox("Folder", [ALL_FOLDERS, *choices.folders], key="f_folder")
        types = st.multiselect("File type", list(choices.file_types), key="f_types")
        chosen_langs = st.multiselect("Language", list(LANGS), key="f_langs")
        by_date = st.checkbox("Only documents dated between", key="f_by_date")
        d_from = d_to = None
        if by_date:
            lo = dt.date.fromisoformat(choices.first_date) if choices.first_date else dt.date(2000, 1, 1)
            hi = dt.date.fromisoformat(choices.last_date) if choices.last_date else dt.date.today()
            d_from = st.date_input("From", value=lo, key="f_from")
            d_to = st.date_input("To", value=hi, key="f_to")
    try:
        return make_filters(None if folder == ALL_FOLDERS else folder, types, chosen_langs,
                            d_from if isinstance(d_from, dt.date) else None,
                            d_to if isinstance(d_to, dt.date) else None)
    except ValueError as e:
        st.sidebar.error(str(e))
        return None
