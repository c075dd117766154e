"""The Documents page (admins): index status, upload or point at a folder and ingest with
progress and per-file errors, the documents list, removing an uploaded document."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from ingest.loaders import SUPPORTED_EXTENSIONS
from rag_app import IngestBusyError, IngestReport
from rag_app.ui.ingest_jobs import IngestJob
from rag_app.ui.uploads import is_upload, remove_upload, save_upload, upload_problem
from rag_app.ui.users import check_groups
from rag_app.ui.views.context import PageContext

POLL_S = 0.3


def render(ctx: PageContext) -> None:
    st.header("Documents")
    _status(ctx)
    _running_ingest(ctx)
    up, folder = st.tabs(["Upload files", "Ingest a folder"])
    with up:
        _upload(ctx)
    with folder:
        _folder(ctx)
    _listing(ctx)


def _status(ctx: PageContext) -> None:
    s = ctx.res.rag.status()
    if not s.exists:
        st.info(f"The index `{s.index_dir}` is empty: upload files or ingest a folder below "
                "(or run `ragqa ingest docs_corpus`).")
        return
    cols = st.columns(4)
    cols[0].metric("Documents", s.documents)
    cols[1].metric("Chunks", s.chunks)
    cols[2].metric("Languages", ", ".join(f"{k} {v}" for k, v in s.languages.items()) or "—")
    cols[3].metric("Last ingest", (s.last_ingest or "—").replace("T", " ")[:16])
    st.caption(f"Index `{s.index_dir}` · embedder `{s.embedder_id}` ({s.dim} dims) · keywords `{s.analyzer}` · "
               f"format {s.format_version}")


def _groups_input(key: str) -> tuple[str, ...] | None:
    raw = st.text_input("Groups allowed to see them (comma-separated; empty: everyone)", key=key)
    try:
        return check_groups(raw.split(","))
    except ValueError as e:
        st.error(str(e))
        return None


def _upload(ctx: PageContext) -> None:
    cfg = ctx.res.config
    files = st.file_uploader(f"Files ({', '.join(SUPPORTED_EXTENSIONS)}; up to {cfg.max_upload_mb} MB each)",
                             accept_multiple_files=True, key="uploads", max_upload_size=cfg.max_upload_mb)
    groups = _groups_input("upload_groups")
    if not st.button("Ingest the uploaded files", key="ingest_uploads", disabled=not files or groups is None):
        return
    saved: list[Path] = []
    for f in files or []:
        problem = upload_problem(f.name, f.size, cfg.max_upload_bytes)
        if problem:
            st.error(problem)
            continue
        saved.append(save_upload(f, f.name, cfg.uploads_dir, groups or ()))
    if saved:
        _begin(ctx, IngestJob(f"{len(saved)} uploaded file(s)", [cfg.uploads_dir], ctx.res.rag.ingest,
                              after=lambda report: _drop_failed(report, cfg.uploads_dir)))


def _drop_failed(report: IngestReport, uploads_dir: Path) -> None:
    """An upload that failed to ingest is not kept: it would fail again on every ingest."""
    for failed in report.files_failed:
        p = Path(failed["path"])
        if uploads_dir.resolve() in p.resolve().parents:
            remove_upload(p, uploads_dir)


def _folder(ctx: PageContext) -> None:
    raw = st.text_input("Folder on the server (its sidecars and _access.json files give the groups)",
                        key="ingest_folder")
    if not st.button("Ingest the folder", key="ingest_folder_go", disabled=not raw.strip()):
        return
    path = Path(raw.strip()).expanduser()
    if not path.exists():
        st.error(f"{path} does not exist on the server; give a folder or file path there.")
        return
    _begin(ctx, IngestJob(str(path), [path], ctx.res.rag.ingest))


def _begin(ctx: PageContext, job: IngestJob) -> None:
    busy = ctx.res.ingest.begin(job, ctx.res.executor)
    if busy:
        st.warning(busy)
        return
    _follow(job)


def _running_ingest(ctx: PageContext) -> None:
    job = ctx.res.ingest.job
    if job is not None and not job.done:
        _follow(job)


def _follow(job: IngestJob) -> None:
    with st.status(f"Ingesting {job.label}…", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the files…")
        while not job.done:
            p = job.progress
            if p is not None and p.total:
                bar.progress(min(p.done / p.total, 1.0), text=f"{p.stage}: {p.done}/{p.total} {Path(p.path).name}")
            time.sleep(POLL_S)
        bar.progress(1.0, text="Done")
        if job.error:
            status.update(label=f"Ingest failed: {job.error}", state="error")
            st.error(f"{job.error}. What was indexed before is unchanged.")
            return
        r = job.report
        assert r is not None
        status.update(label=f"Ingested {job.label}: {r.files_indexed} indexed, {r.files_unchanged} unchanged, "
                            f"{len(r.files_failed)} failed", state="error" if r.files_failed else "complete")
        st.write(f"{r.files_indexed} file(s) indexed ({r.chunks_added} chunks), {r.files_unchanged} unchanged, "
                 f"{r.files_deleted} removed, in {r.seconds:.1f} s.")
        for failed in r.files_failed:
            st.error(f"{Path(failed['path']).name}: {failed['error']} — not indexed.")


def _listing(ctx: PageContext) -> None:
    docs = ctx.res.library.all()
    st.subheader(f"Indexed documents ({len(docs)})")
    if not docs:
        return
    st.dataframe([{"source": d.source, "title": d.title or "", "type": d.file_type, "groups": ", ".join(d.groups),
                   "chunks": d.chunks, "date": d.date or "", "indexed": d.indexed_at[:16].replace("T", " "),
                   "folder ingested": d.root} for d in docs], hide_index=True, width="stretch")
    st.caption("Removing a document deletes it from the index (its chunks, vectors and keyword terms); an "
               "uploaded file is deleted too. A document ingested from a folder comes back when that folder "
               "is ingested again unless its file is deleted there or listed in the folder's .ragqaignore.")
    names = {d.doc_id: d.source for d in docs}
    doc_id = st.selectbox("Remove a document", list(names), format_func=names.__getitem__, key="remove_doc")
    if st.button("Remove", key="remove_go") and doc_id:
        doc = next(d for d in docs if d.doc_id == doc_id)
        try:
            removed = ctx.res.rag.remove([doc_id])
        except (ValueError, IngestBusyError) as e:
            st.error(str(e))
            return
        if is_upload(doc.root, ctx.res.config.uploads_dir):
            remove_upload(doc.path, ctx.res.config.uploads_dir)
        st.success(f"Removed {doc.source} ({removed.chunks} chunks).")
