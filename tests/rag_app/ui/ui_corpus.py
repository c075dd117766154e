"""A tiny corpus for the page's tests: public English and Japanese documents, a public PDF, and
a restricted (hr) document whose words appear nowhere else, ingested with the hashing embedder;
its qa.jsonl gives the Ask page's suggested questions (one per document, a restricted one too)."""

from __future__ import annotations

import json
from pathlib import Path

RESTRICTED_TERM = "Zephyrine"  # only in hr/bonus_plan.md
RESTRICTED_QUESTION = "How large is the Zephyrine retention bonus for engineers?"
PDF_QUESTION = "How many hours does the Kestrel backup window last each night?"
PDF_SENTENCE = "The Kestrel backup window lasts four hours each night."
VPN_QUESTION = "Which client do I install for the VPN?"
LEAVE_QUESTION = "入社6か月後に付与される年次有給休暇は何日ですか？"
BUDGET_QUESTION = "What is the Marmoset project budget for FY2026?"  # finance only
SAMPLE_QUESTIONS = [  # docs/qa.jsonl, in the format of docs_corpus/qa.jsonl
    {"id": "u1", "question": PDF_QUESTION, "answer": "four hours", "answerable": True, "lang": "en",
     "source": "it/backup.pdf", "page": 2},
    {"id": "u2", "question": RESTRICTED_QUESTION, "answer": "12 percent", "answerable": True, "lang": "en",
     "source": "hr/bonus_plan.md"},
    {"id": "u3", "question": BUDGET_QUESTION, "answer": "40 million yen", "answerable": True, "lang": "en",
     "source": "finance/budget.md"},
    {"id": "u4", "question": VPN_QUESTION, "answer": "WireGuard", "answerable": True, "lang": "en",
     "source": "it/vpn.md"},
    {"id": "u5", "question": LEAVE_QUESTION, "answer": "10日", "answerable": True, "lang": "ja",
     "source": "hr/leave_ja.md"},
    {"id": "u6", "question": "What is the Zephyrine stock option plan?", "answer": None, "answerable": False,
     "lang": "en", "source": None},  # no source: never offered
]


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        y = 780
        for line in lines:
            c.drawString(72, y, line)
            y -= 18
        c.showPage()
    c.save()


def build_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "it").mkdir(parents=True)
    (docs / "hr").mkdir(parents=True)
    (docs / "it" / "vpn.md").write_text(
        "# VPN setup\n\nInstall the WireGuard client and import the profile from the portal. "
        "The VPN gateway is vpn.example.internal.\n", encoding="utf-8")
    (docs / "hr" / "leave_ja.md").write_text(
        "# 休暇規程\n\n入社6か月後に10日の年次有給休暇を付与する。繰越は最大20日までとする。\n", encoding="utf-8")
    (docs / "hr" / "bonus_plan.md").write_text(
        f"# Retention bonus\n\nThe {RESTRICTED_TERM} retention bonus for engineers is 12 percent of the "
        "annual salary, paid in March.\n", encoding="utf-8")
    (docs / "hr" / "bonus_plan.md.meta.json").write_text(json.dumps({"groups": ["hr"], "title": "Bonus plan"}),
                                                         encoding="utf-8")
    (docs / "finance").mkdir()
    (docs / "finance" / "budget.md").write_text(
        "# Budget\n\nThe Marmoset project budget for FY2026 is 40 million yen.\n", encoding="utf-8")
    (docs / "finance" / "budget.md.meta.json").write_text(json.dumps({"groups": ["finance"]}), encoding="utf-8")
    write_pdf(docs / "it" / "backup.pdf", [
        ["Backup policy", "Nightly backups run for every production database."],
        ["Backup window", PDF_SENTENCE, "Restores are tested every quarter by the operations team."],
    ])
    (docs / "qa.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in SAMPLE_QUESTIONS),
                                   encoding="utf-8")
    (docs / ".ragqaignore").write_text("qa.jsonl\n", encoding="utf-8")  # as in docs_corpus: not a document
    return docs


def build_index(root: Path) -> tuple[Path, Path]:
    """(docs folder, index folder) of the tiny corpus."""
    from rag_app import RAG

    docs = build_corpus(root)
    index = root / "idx"
    report = RAG.from_config(index_dir=index, embedder="hashing", generator="extractive").ingest([docs])
    assert report.files_failed == [], report.files_failed
    return docs, index
