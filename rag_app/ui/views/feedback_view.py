"""The Feedback page (admins): counts, per generator, the worst answers, export."""

from __future__ import annotations

import streamlit as st

from rag_app.ui.feedback import export_jsonl, summarise
from rag_app.ui.views.context import PageContext


def render(ctx: PageContext) -> None:
    st.header("Feedback")
    log = ctx.res.feedback.read()
    if log.problems:
        st.warning(f"{len(log.problems)} line(s) of `{ctx.res.feedback.path}` could not be read and are left out: "
                   + "; ".join(log.problems[:5]))
    if not log.records:
        st.info(f"No feedback yet (`{ctx.res.feedback.path}`). Thumbs under each answer on the Ask page land here.")
        return
    s = summarise(log.records)
    cols = st.columns(3)
    cols[0].metric("Rated answers", s.total)
    cols[1].metric("👍", s.up)
    cols[2].metric("👎", s.down)
    st.dataframe([{"generator": g, "up": u, "down": d} for g, (u, d) in s.by_generator.items()], hide_index=True)
    st.download_button("Export feedback (JSONL)", data=export_jsonl(log.records), file_name="feedback.jsonl",
                       mime="application/jsonl", key="fb_export", on_click="ignore")
    st.subheader("Answers rated down")
    if not s.worst:
        st.caption("None.")
    for r in s.worst:
        with st.expander(f"{r.question[:100]} — {r.user}, {r.time[:16].replace('T', ' ')}"):
            st.markdown("**Answer**")
            st.text(r.answer.text)
            if r.answer.refused:
                st.caption(f"Refused: {r.answer.refusal_reason}")
            if r.comment:
                st.markdown("**Comment**")
                st.text(r.comment)
            if r.corrected_answer:
                st.markdown("**Corrected answer**")
                st.text(r.corrected_answer)
            st.caption(f"generator {r.answer.generator} · cited "
                       + (", ".join(f"[{c.n}] {c.source}" for c in r.answer.citations) or "nothing"))
