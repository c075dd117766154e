"""``ragqa finetune data``: gold QA files, generated questions and page feedback -> RAFT,
closed-book and preference records over the real retriever, split by document, with a data card.

Phases: read sources -> make the index hold every gold document (SQuAD-format paragraphs are
written out as documents and ingested) -> optional generated questions -> split by
document/article -> oracle + distractors per question -> records -> files + card.

Files written to ``out_dir``::

    train.jsonl / valid.jsonl                 trl prompt/completion (RAFT, refusal, feedback records)
    alpaca_train.json / alpaca_valid.json     the same records as Alpaca instruction/input/output
    closed_book_train.jsonl / ..._valid.jsonl question -> answer, no context
    preferences.jsonl                         prompt/chosen/rejected pairs (DPO), when there are any
    data_card.json                            counts, hashes, licences, template version, issues
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag_app.rag import RAG

from .card import build_card, write_card
from .config import DataConfig
from .feedback import context_hits, feedback_record
from .raft import Searcher, closed_book_record, find_oracle, pick_distractors, raft_record
from .records import PreferencePair, SFTRecord, write_alpaca, write_jsonl
from .sources import GoldQuestion, Issue, Read, Sources, read_sources
from .split import TRAIN, VALID, split_groups

CORPUS_DIR = "corpus"  # under out_dir: SQuAD-format paragraphs written as documents


@dataclass(frozen=True, slots=True)
class DataBuild:
    """What ``build_dataset`` wrote. ``counts``: the card's rows (origin, lang, split, kind, n)."""

    out_dir: Path
    card_path: Path
    files: dict[str, Path]
    counts: list[dict[str, Any]]
    issues: tuple[Issue, ...]

    def total(self, split: str) -> int:
        return sum(int(r["n"]) for r in self.counts if r["split"] == split and r["kind"] != "closed_book")


def write_corpus(reads: Sequence[Read], root: Path) -> list[Path]:
    """Each SQuAD-format file's paragraphs as ``root/<set>/<article>/<paragraph>.txt`` (unchanged
    files are left alone, so re-ingesting is incremental); returns the set folders, each to be
    ingested as its own root."""
    folders = []
    for r in reads:
        if r.corpus is None:
            continue
        for rel, text in r.corpus.docs.items():
            path = root / r.corpus.name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        folders.append(root / r.corpus.name)
    return folders


def cap_questions(questions: Sequence[GoldQuestion], limit: int | None, seed: int) -> list[GoldQuestion]:
    """At most ``limit`` questions per origin file, a seeded sample (input order kept)."""
    if limit is None:
        return list(questions)
    by_origin: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_origin.setdefault(q.origin, []).append(i)
    keep: set[int] = set()
    for idx in by_origin.values():
        keep |= set(random.Random(seed).sample(idx, min(limit, len(idx))))
    return [q for i, q in enumerate(questions) if i in keep]


def question_records(q: GoldQuestion, searcher: Searcher, config: DataConfig, split: str,
                     rng: random.Random) -> list[SFTRecord] | Issue:
    """The RAFT (or refusal) record of one question, plus its closed-book record."""
    k = config.distractors
    if not q.answerable:  # nothing holds the answer: what the retriever finds, target the refusal
        hits = searcher.search(q.question, groups=("*",), top_k=k + 1)
        return [raft_record(q, None, hits[: k + 1], split=split, rng=rng,
                            max_context_tokens=config.max_context_tokens)]
    oracle = find_oracle(q, searcher)
    if oracle is None:
        return Issue(f"{q.origin}:{q.qid}", f"answer {q.answers[0][:40]!r} not found in any chunk of {q.source} "
                                            "in the index (ingest that document into --index, or fix the answer)")
    distractors = pick_distractors(q, searcher, k + 1)  # k beside the oracle, k + 1 without it
    with_oracle = rng.random() >= config.refusal_share
    out = [raft_record(q, oracle if with_oracle else None, distractors[:k] if with_oracle else distractors,
                       split=split, rng=rng, max_context_tokens=config.max_context_tokens)]
    if config.closed_book:
        out.append(closed_book_record(q, split=split))
    return out


def _generated(config: DataConfig, rag: RAG) -> tuple[list[GoldQuestion], list[Issue]]:
    from rag_app.generators.registry import make_generator

    from .questions import generate_question

    chunks = sorted(rag.reader.catalog.iter_chunks(), key=lambda c: c.id)
    picked = random.Random(config.seed).sample(chunks, min(config.generate_questions, len(chunks)))
    generator = make_generator(config.question_generator)
    qs: list[GoldQuestion] = []
    issues: list[Issue] = []
    for chunk in picked:
        got = generate_question(chunk, generator)
        (issues if isinstance(got, Issue) else qs).append(got)  # type: ignore[arg-type]
    return qs, issues


def open_index(config: DataConfig, sources: Sources) -> RAG:
    """The RAG whose retriever builds the records; SQuAD-format paragraphs are ingested first."""
    rag = RAG.from_config(index_dir=config.index_dir, embedder=config.embedder, generator="extractive")
    folders = write_corpus(sources.reads, config.out_dir / CORPUS_DIR) if config.ingest_corpus else []
    for folder in folders:
        report = rag.ingest([folder], progress=config.progress, prune=False)
        if report.files_failed:
            raise RuntimeError(f"ingesting the QA paragraphs failed for {len(report.files_failed)} files: "
                               f"{report.files_failed[:3]}")
    if not rag.status().exists:
        raise FileNotFoundError(f"no index at {config.index_dir}: ingest the documents the questions are about "
                                f"first (`ragqa ingest DOCS --index-dir {config.index_dir}`)")
    return rag


def build_records(config: DataConfig, sources: Sources, rag: RAG,
                  progress: Callable[[int, int], None] | None = None
                  ) -> tuple[list[SFTRecord | PreferencePair], list[Issue], dict[str, str]]:
    """(records, issues, group -> split)."""
    issues = list(sources.issues)
    questions = cap_questions(sources.questions, config.max_questions, config.seed)
    if config.generate_questions:
        gen_qs, gen_issues = _generated(config, rag)
        questions += gen_qs
        issues += gen_issues
    feedback = [(r.path.name, fb) for r in sources.reads for fb in r.feedback]
    fb_hits = [(origin, fb, context_hits(fb, rag.reader)) for origin, fb in feedback]
    groups = [q.group for q in questions] + [h[0].chunk.source if isinstance(h, list) and h else fb.question
                                             for _, fb, h in fb_hits]
    split_of = split_groups(groups, config.valid_share, config.seed)
    rng = random.Random(config.seed)
    records: list[SFTRecord | PreferencePair] = []
    for i, q in enumerate(questions, 1):
        got = question_records(q, rag, config, split_of[q.group], rng)
        if isinstance(got, Issue):
            issues.append(got)
        else:
            records += got
        if progress:
            progress(i, len(questions))
    for (origin, fb, hits), group in zip(fb_hits, groups[len(questions):], strict=True):
        made = hits if isinstance(hits, Issue) else feedback_record(
            fb, hits, split=split_of[group], max_context_tokens=config.max_context_tokens, origin=origin)
        (issues if isinstance(made, Issue) else records).append(made)  # type: ignore[arg-type]
    return records, issues, split_of


def write_records(out_dir: Path, records: Sequence[SFTRecord | PreferencePair]) -> dict[str, Path]:
    sft = [r for r in records if isinstance(r, SFTRecord)]
    files: dict[str, Path] = {}
    for split in (TRAIN, VALID):
        context = [r for r in sft if r.split == split and r.kind != "closed_book"]
        closed = [r for r in sft if r.split == split and r.kind == "closed_book"]
        files[split] = out_dir / f"{split}.jsonl"
        write_jsonl(files[split], (r.to_trl() for r in context))
        files[f"alpaca_{split}"] = out_dir / f"alpaca_{split}.json"
        write_alpaca(files[f"alpaca_{split}"], context)
        if closed:
            files[f"closed_book_{split}"] = out_dir / f"closed_book_{split}.jsonl"
            write_jsonl(files[f"closed_book_{split}"], (r.to_trl() for r in closed))
    pairs = [r for r in records if isinstance(r, PreferencePair)]
    if pairs:
        files["preferences"] = out_dir / "preferences.jsonl"
        write_jsonl(files["preferences"], (p.to_trl() for p in pairs))
    return files


def _bar() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, desc="records", unit="q"))
        bar[0].update(1)
        if done == total:
            bar[0].close()
    return update


def build_dataset(config: DataConfig, *, rag: RAG | None = None,
                  progress: Callable[[int, int], None] | None = None) -> DataBuild:
    """Run every phase; ``rag`` replaces the index opened from ``config`` (tests, benchmarks)."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    sources = read_sources(config.qa_files, config.feedback_files)
    rag = rag or open_index(config, sources)
    if progress is None and config.progress:
        progress = _bar()
    records, issues, split_of = build_records(config, sources, rag, progress)
    files = write_records(config.out_dir, records)
    settings = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, tuple) else v)
                for k, v in asdict(config).items()}
    settings["embedder_id"] = rag.status().embedder_id
    card = build_card(sources.reads, records, files, issues, settings, split_of)
    card_path = write_card(config.out_dir, card)
    return DataBuild(out_dir=config.out_dir, card_path=card_path, files=files, counts=card["counts"],
                     issues=tuple(issues))


MERGED_FILES = ("train.jsonl", "valid.jsonl", "closed_book_train.jsonl", "closed_book_valid.jsonl",
                "preferences.jsonl")


def merge_data(dirs: Sequence[Path], out_dir: Path) -> Path:
    """One data directory from several (e.g. one per index): records concatenated, one card whose
    sources, counts and splits are the union. Refused when the template versions differ or a
    document/article is in the training split of one and the validation split of another."""
    from collections import Counter

    from .card import CARD_FILE, read_card, sha256_of

    cards = [read_card(d) for d in dirs]
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for name in MERGED_FILES:
        parts = [Path(d) / name for d in dirs if (Path(d) / name).is_file()]
        if parts:
            files[name.removesuffix(".jsonl")] = out_dir / name
            (out_dir / name).write_text("".join(p.read_text(encoding="utf-8") for p in parts), encoding="utf-8")
    for split in (TRAIN, VALID):
        rows = [r for d in dirs if (Path(d) / f"alpaca_{split}.json").is_file()
                for r in json.loads((Path(d) / f"alpaca_{split}.json").read_text(encoding="utf-8"))]
        files[f"alpaca_{split}"] = out_dir / f"alpaca_{split}.json"
        files[f"alpaca_{split}"].write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    splits: dict[str, set[str]] = {TRAIN: set(), VALID: set()}
    for c in cards:
        for s, groups in c.get("splits", {}).items():
            splits.setdefault(s, set()).update(groups)
    both = splits[TRAIN] & splits[VALID]
    if both:
        raise ValueError(f"documents in both splits across {[str(d) for d in dirs]}: {sorted(both)[:5]}; build "
                         "the parts with disjoint documents")
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for c in cards:
        for row in c["counts"]:
            counts[(row["origin"], row["lang"], row["split"], row["kind"])] += int(row["n"])
    card = {**cards[0], "sources": [s for c in cards for s in c["sources"]],
            "counts": [{"origin": o, "lang": lang, "split": s, "kind": k, "n": n}
                       for (o, lang, s, k), n in sorted(counts.items())],
            "totals": dict(sum((Counter(c.get("totals", {})) for c in cards), Counter())),
            "splits": {s: sorted(g) for s, g in splits.items()},
            "files": {name: {"path": p.name, "sha256": sha256_of(p)} for name, p in files.items()},
            "issues": [i for c in cards for i in c["issues"]],
            "merged_from": [{"dir": str(d), "card_sha256": sha256_of(Path(d) / CARD_FILE)} for d in dirs]}
    return write_card(out_dir, card)
