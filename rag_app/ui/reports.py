"""Evaluation reports on disk: every folder under the report roots that holds a report file.

A report is a folder with Markdown, tables (CSV / JSON / JSONL) and plots (PNG / SVG); the page
shows them in that order. Nothing about a report's layout is assumed beyond file kinds, so the
page reads whatever the evaluation harness writes and shows the rest as files to download.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KINDS = {".md": "markdown", ".csv": "table", ".json": "json", ".jsonl": "jsonl", ".png": "image",
         ".svg": "image", ".jpg": "image", ".txt": "text", ".html": "file"}
MAX_FILES_PER_REPORT = 60
MAX_REPORTS = 200


@dataclass(frozen=True, slots=True)
class ReportFile:
    path: Path
    kind: str  # a value of KINDS


@dataclass(frozen=True, slots=True)
class Report:
    folder: Path
    name: str  # the folder relative to its root
    modified: float  # newest file's mtime, seconds since the epoch
    files: tuple[ReportFile, ...]

    def of_kind(self, kind: str) -> list[ReportFile]:
        return [f for f in self.files if f.kind == kind]


def find_reports(roots: Sequence[Path]) -> list[Report]:
    """Reports under ``roots`` (missing roots are skipped), newest first."""
    by_folder: dict[Path, list[Path]] = {}
    names: dict[Path, str] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix.lower() in KINDS and not p.name.startswith("."):
                by_folder.setdefault(p.parent, []).append(p)
                rel = p.parent.relative_to(root).as_posix()
                names[p.parent] = f"{root.name}/{rel}" if rel != "." else root.name
    reports = []
    for folder, files in by_folder.items():
        files = files[:MAX_FILES_PER_REPORT]
        reports.append(Report(folder=folder, name=names[folder], modified=max(f.stat().st_mtime for f in files),
                              files=tuple(ReportFile(f, KINDS[f.suffix.lower()]) for f in files)))
    reports.sort(key=lambda r: r.modified, reverse=True)
    return reports[:MAX_REPORTS]
