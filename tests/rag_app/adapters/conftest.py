"""A small real ragqa index (hashing embedder: no model, about a second to build) for the
adapter tests: six public documents, one Japanese, and one restricted to the "hr" group."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings

# The restricted document's marker word appears nowhere else, so a query for it ranks it first
# whenever the caller may see it.
SECRET_WORD = "zephyrgrade"
SECRET_SOURCE = "hr/salary_bands.md"

DOCS: dict[str, tuple[tuple[str, ...], str]] = {
    "policies/leave.md": (("public",), "# Annual leave\n\nEmployees receive twenty days of paid annual leave "
                                       "per year. Unused leave carries over up to five days."),
    "policies/expenses.md": (("public",), "# Expenses\n\nSubmit travel expense reports within thirty days "
                                          "with receipts attached. Meals are reimbursed up to a daily limit."),
    "it/vpn.md": (("public",), "# VPN setup\n\nInstall the VPN client, sign in with your company account "
                               "and enable multi-factor authentication before connecting."),
    "it/laptop.md": (("public",), "# Laptop policy\n\nCompany laptops must use full disk encryption and "
                                  "receive security updates every month."),
    "office/kitchen.md": (("public",), "# Kitchen\n\nThe office kitchen is cleaned every evening; label "
                                       "food in the shared fridge with your name and the date."),
    "ja/kyuka.md": (("public",), "# 休暇規定\n\n社員は年間二十日の有給休暇を取得できます。未消化の休暇は"
                                 "五日まで翌年に繰り越せます。"),
    SECRET_SOURCE: (("hr",), f"# Salary bands\n\nConfidential: the {SECRET_WORD} salary band for annual "
                             f"leave policy owners starts at 9.1 million yen."),
}


@dataclass(frozen=True)
class Corpus:
    """The built index and what the tests need to know about its documents."""

    index_dir: Path
    secret_word: str = SECRET_WORD
    secret_source: str = SECRET_SOURCE
    public_sources: frozenset[str] = frozenset(s for s, (g, _) in DOCS.items() if g == ("public",))
    n_docs: int = len(DOCS)


def build_index(base: Path) -> Path:
    root, index = base / "docs", base / "idx"
    for name, (groups, text) in DOCS.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        if groups != ("public",):
            Path(f"{p}.meta.json").write_text(json.dumps({"groups": list(groups)}), encoding="utf-8")
    report = Ingestor(IndexSettings(index_dir=index, embedder="hashing")).run([root])
    assert report.files_failed == [] and report.files_indexed == len(DOCS), report
    return index


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """DOCS indexed once per test session."""
    return Corpus(build_index(tmp_path_factory.mktemp("adapters")))


@pytest.fixture(scope="session")
def adapter_index(corpus: Corpus) -> Path:
    return corpus.index_dir
