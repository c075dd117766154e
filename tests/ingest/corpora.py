"""Small synthetic corpora for ingest tests: English and Japanese policies, and one update."""

from __future__ import annotations

from pathlib import Path


def write_corpus(root: Path, n: int = 12) -> None:
    (root / "en").mkdir(parents=True, exist_ok=True)
    (root / "ja").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / "en" / f"doc{i:02d}.md").write_text(
            f"# Policy {i}\n\n## Scope\n\nThis policy number {i} applies to all staff in team {i % 3}. "
            f"Requests are approved within {i + 2} business days.\n\n## Details\n\n"
            + " ".join(f"Sentence {j} about topic {i} and rule {j * i}." for j in range(40)),
            encoding="utf-8",
        )
        (root / "ja" / f"doc{i:02d}.txt").write_text(
            f"規程{i}について。\n\n" + "".join(f"第{j}条 社員は手続き{i}-{j}に従うこと。" for j in range(30)),
            encoding="utf-8",
        )


def mutate(corpus: Path) -> None:
    (corpus / "en" / "doc02.md").write_text("# Policy 2\n\nNow only one sentence.", encoding="utf-8")
    (corpus / "ja" / "doc04.txt").unlink()
    (corpus / "en" / "new.md").write_text("# New\n\nA brand new document about parking.", encoding="utf-8")
