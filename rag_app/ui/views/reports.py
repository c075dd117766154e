"""The Reports page (admins): evaluation reports found on disk, rendered (text, tables, plots)."""

from __future__ import annotations

import datetime as dt
import json

import streamlit as st

from rag_app.ui.reports import Report, ReportFile, find_reports
from rag_app.ui.views.context import PageContext

MAX_TABLE_ROWS = 1000


def render(ctx: PageContext) -> None:
    st.header("Evaluation reports")
    roots = ctx.res.config.report_dirs
    reports = find_reports(roots)
    if not reports:
        st.info("No evaluation reports found in " + ", ".join(f"`{r}`" for r in roots)
                + ". Run an evaluation, or point RAGQA_REPORTS (or `ragqa ui --reports DIR`) at its output.")
        return
    names = [f"{r.name} ({dt.datetime.fromtimestamp(r.modified):%Y-%m-%d %H:%M})" for r in reports]
    i = st.selectbox("Report", range(len(reports)), format_func=names.__getitem__, key="report")
    _report(reports[int(i or 0)])


def _report(r: Report) -> None:
    st.caption(f"`{r.folder}`")
    for f in r.of_kind("markdown"):
        st.markdown(_read(f))
    for f in r.of_kind("image"):
        st.image(str(f.path), caption=f.path.name)
    for f in r.of_kind("table") + r.of_kind("jsonl"):
        st.markdown(f"**{f.path.name}**")
        _table(f)
    for f in r.of_kind("json"):
        with st.expander(f.path.name):
            try:
                st.json(json.loads(_read(f)))
            except json.JSONDecodeError as e:
                st.warning(f"{f.path.name} is not valid JSON ({e}).")
    for f in r.of_kind("text") + r.of_kind("file"):
        st.download_button(f"Download {f.path.name}", data=f.path.read_bytes, file_name=f.path.name,
                           key=f"rep-{f.path}", on_click="ignore")


def _read(f: ReportFile) -> str:
    return f.path.read_text(encoding="utf-8", errors="replace")


def _table(f: ReportFile) -> None:
    import pandas as pd  # streamlit's own dependency

    try:
        if f.kind == "table":
            df = pd.read_csv(f.path, nrows=MAX_TABLE_ROWS)
        else:
            df = pd.read_json(f.path, lines=True, nrows=MAX_TABLE_ROWS)
    except (ValueError, pd.errors.ParserError) as e:
        st.warning(f"{f.path.name} could not be read as a table ({e}).")
        return
    st.dataframe(df, hide_index=True)
