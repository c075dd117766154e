"""Where the page keeps its files and which limits it enforces: one typed object.

Every path defaults to a place inside the index folder, so one index with its users, feedback
and uploads moves as one folder; each can be moved with an environment variable:

=====================  ==============================  ======================================
variable               default                          what
=====================  ==============================  ======================================
RAGQA_USERS            <index>/users.jsonl              the users file (``ragqa users add``)
RAGQA_FEEDBACK         <index>/feedback.jsonl           the feedback store
RAGQA_UPLOADS          <index>/uploads                  files uploaded on the Documents page
RAGQA_REPORTS          eval/reports                     report folders, ``os.pathsep``-separated
RAGQA_UI_MAX_UPLOAD_MB 50                               largest upload accepted, MB
=====================  ==============================  ======================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_QUESTION_CHARS = 2000  # a question longer than this is refused with a message (not cut)
MAX_PENDING = 3  # questions queued while an answer is written; more are refused with a message
HISTORY_TURNS = 4  # earlier question/answer pairs sent with a follow-up
DEFAULT_MAX_UPLOAD_MB = 50
DEFAULT_REPORT_DIRS = ("eval/reports",)


@dataclass(frozen=True, slots=True)
class UIConfig:
    index_dir: Path
    users_file: Path
    feedback_file: Path
    uploads_dir: Path
    report_dirs: tuple[Path, ...] = tuple(Path(d) for d in DEFAULT_REPORT_DIRS)
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_question_chars: int = MAX_QUESTION_CHARS
    max_pending: int = MAX_PENDING
    history_turns: int = HISTORY_TURNS

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def for_index(cls, index_dir: Path | str, env: Mapping[str, str] | None = None) -> UIConfig:
        """The page's configuration over ``index_dir``, with the environment's overrides."""
        e = os.environ if env is None else env
        index = Path(index_dir)
        reports = e.get("RAGQA_REPORTS")
        raw_mb = e.get("RAGQA_UI_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
        try:
            max_mb = int(raw_mb)
            if max_mb <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"RAGQA_UI_MAX_UPLOAD_MB={raw_mb!r} is not a positive whole number of MB; "
                             f"set e.g. RAGQA_UI_MAX_UPLOAD_MB={DEFAULT_MAX_UPLOAD_MB}") from None
        return cls(
            index_dir=index,
            users_file=Path(e.get("RAGQA_USERS") or index / "users.jsonl"),
            feedback_file=Path(e.get("RAGQA_FEEDBACK") or index / "feedback.jsonl"),
            uploads_dir=Path(e.get("RAGQA_UPLOADS") or index / "uploads"),
            report_dirs=tuple(Path(p) for p in (reports.split(os.pathsep) if reports else DEFAULT_REPORT_DIRS) if p),
            max_upload_mb=max_mb,
        )
