"""A run folder on disk: the manifest (``run.json``), the questions, and one JSONL file of answer
traces and one of ragas scores per system.

Layout::

    OUT/run.json                  format_version, dataset, systems, the plan (system -> qid -> key), stats
    OUT/questions.jsonl           the questions as loaded (Question.to_dict)
    OUT/answers/<slug>.jsonl      {"format", "key", "qid", "system", "answer": Answer.to_dict() | null, "error", ...}
    OUT/scores/<slug>.jsonl       {"format", "key", "qid", "system", "scores": {metric: value | null}, "failures": {...}}

Appends are flushed per record, so a crash or a kill loses nothing already written; they are
fsync'ed at most once a second (and on close), which bounds what a power cut can take. A line
cut short by a kill is skipped on reading (and the next append starts on a fresh line).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

RUN_FORMAT_VERSION = 1
TRACE_FORMAT = 1
FSYNC_EVERY_S = 1.0


class RunDirError(ValueError):
    """A folder that is not a run folder, or one written by another format version."""


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{out_dir} is not an evaluation run folder (no run.json): make one with "
                          "`ragqa eval run --dataset FILE --systems ... --out DIR`") from None
    except ValueError as e:
        raise RunDirError(f"{path} is not valid JSON ({e}); re-run `ragqa eval run` into this folder") from None
    version = data.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise RunDirError(f"{path}: format_version {version!r} is not {RUN_FORMAT_VERSION}, the version this "
                          "ragqa reads; re-run the evaluation with this ragqa")
    return dict(data)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record of ``path`` (none when it does not exist); a cut-short line is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("format") == TRACE_FORMAT:
                yield rec


def latest_by_key(path: Path) -> dict[str, dict[str, Any]]:
    """The last record per key (a retried question's newer record wins)."""
    return {str(r["key"]): r for r in read_jsonl(path)}


class Appender:
    """Appends JSON records to one file: flushed each time, fsync'ed at most every second."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[str] | None = None
        self._synced = time.monotonic()

    def _open(self) -> IO[str]:
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            cut = self.path.is_file() and self.path.stat().st_size > 0 and not self._ends_with_newline()
            self._f = self.path.open("a", encoding="utf-8")
            if cut:
                self._f.write("\n")
        return self._f

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def append(self, record: dict[str, Any]) -> None:
        f = self._open()
        f.write(json.dumps({"format": TRACE_FORMAT, **record}, ensure_ascii=False) + "\n")
        f.flush()
        if time.monotonic() - self._synced >= FSYNC_EVERY_S:
            os.fsync(f.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answers_path(out_dir: Path, slug: str) -> Path:
    return Path(out_dir) / "answers" / f"{slug}.jsonl"


def scores_path(out_dir: Path, slug: str) -> Path:
    return Path(out_dir) / "scores" / f"{slug}.jsonl"
