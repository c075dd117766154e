from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.access import (
    AccessMeta,
    AccessMetaError,
    is_sidecar,
    read_access_meta,
    sidecar_fingerprint,
    strip_front_matter,
)


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "hr" / "payroll").mkdir(parents=True)
    return tmp_path


def test_default_is_public(root: Path) -> None:
    doc = root / "hr" / "a.pdf"
    doc.write_bytes(b"x")
    assert read_access_meta(doc, root) == AccessMeta(groups=("public",))


def test_sidecar(root: Path) -> None:
    doc = root / "hr" / "plan.pdf"
    doc.write_bytes(b"x")
    write_json(
        root / "hr" / "plan.pdf.meta.json",
        {"groups": ["hr", "executives", "hr"], "title": "Plan", "date": "2026-04-01", "lang": "ja-JP",
         "extra": {"owner": "sato"}},
    )  # fmt: skip
    meta = read_access_meta(doc, root)
    assert meta == AccessMeta(groups=("hr", "executives"), title="Plan", date="2026-04-01", lang="ja",
                              extra={"owner": "sato"})  # fmt: skip


def test_directory_defaults_nest_and_sidecar_overrides(root: Path) -> None:
    write_json(root / "_access.json", {"groups": ["staff"]})
    write_json(root / "hr" / "_access.json", {"groups": ["hr"]})
    inherited = root / "hr" / "payroll" / "bands.xlsx"
    inherited.write_bytes(b"x")
    assert read_access_meta(inherited, root).groups == ("hr",)
    top = root / "memo.txt"
    top.write_text("x")
    assert read_access_meta(top, root).groups == ("staff",)
    own = root / "hr" / "payroll" / "open.csv"
    own.write_text("a")
    write_json(root / "hr" / "payroll" / "open.csv.meta.json", {"groups": ["public"], "title": "Open"})
    assert read_access_meta(own, root) == AccessMeta(groups=("public",), title="Open")
    # A sidecar without groups keeps the folder's groups and adds metadata.
    titled = root / "hr" / "titled.md"
    titled.write_text("# x\n")
    write_json(root / "hr" / "titled.md.meta.json", {"title": "Titled"})
    assert read_access_meta(titled, root) == AccessMeta(groups=("hr",), title="Titled")


def test_markdown_front_matter(root: Path) -> None:
    doc = root / "hr" / "eval.md"
    doc.write_text(
        "---\ntitle: 人事評価\ngroups: [hr]\ndate: 2026-04-01\ntags: [a, b]\nupdated: 2026-05-01\n---\n# 人事評価\n",
        encoding="utf-8",
    )
    meta = read_access_meta(doc, root)
    assert meta == AccessMeta(
        groups=("hr",),
        title="人事評価",
        date="2026-04-01",
        extra={"tags": ["a", "b"], "updated": "2026-05-01"},
    )
    # The sidecar wins over front matter, key by key.
    write_json(root / "hr" / "eval.md.meta.json", {"groups": ["executives"]})
    meta = read_access_meta(doc, root)
    assert (meta.groups, meta.title) == (("executives",), "人事評価")


def test_front_matter_in_shift_jis_markdown(root: Path) -> None:
    doc = root / "sjis.md"
    doc.write_bytes("---\ntitle: 就業規則\ngroups: [hr]\n---\n本文\n".encode("cp932"))
    assert read_access_meta(doc, root) == AccessMeta(groups=("hr",), title="就業規則")


def test_front_matter_bad_date_is_kept_as_extra(root: Path) -> None:
    doc = root / "hugo.md"
    doc.write_text("---\ndate: last week\n---\nbody\n")
    meta = read_access_meta(doc, root)
    assert meta.date is None and meta.extra == {"date": "last week"}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"groups": "hr"}, r'"groups" must be a list of group names, e\.g\. \["hr"\]'),
        ({"groups": []}, r'"groups" is empty'),
        ({"groups": ["hr team"]}, r"bad group name 'hr team'"),
        ({"groups": [""]}, r"bad group name ''"),
        ({"groups": [1]}, r"bad group name 1"),
        ({"group": ["hr"]}, r"unknown key 'group'; allowed: groups, title, date, lang, extra"),
        ({"date": "01/04/2026"}, r'bad "date" \'01/04/2026\''),
        ({"lang": "日本語"}, r'bad "lang"'),
        ({"title": ["a"]}, r'"title" must be a string'),
        (["hr"], r"must be a JSON object"),
    ],
)
def test_bad_sidecar_names_file_and_problem(root: Path, data: object, problem: str) -> None:
    doc = root / "doc.pdf"
    doc.write_bytes(b"x")
    sidecar = root / "doc.pdf.meta.json"
    write_json(sidecar, data)
    with pytest.raises(AccessMetaError, match=problem) as info:
        read_access_meta(doc, root)
    assert info.value.path == sidecar
    assert str(info.value).startswith(str(sidecar))


def test_invalid_json_sidecar(root: Path) -> None:
    doc = root / "doc.pdf"
    doc.write_bytes(b"x")
    (root / "doc.pdf.meta.json").write_text('{"groups": ["hr",]}')
    with pytest.raises(AccessMetaError, match=r"invalid JSON at line 1 column"):
        read_access_meta(doc, root)


def test_bad_access_file(root: Path) -> None:
    write_json(root / "hr" / "_access.json", {"groups": ["hr"], "title": "not allowed here"})
    doc = root / "hr" / "a.txt"
    doc.write_text("x")
    with pytest.raises(AccessMetaError, match=r"_access\.json: unknown key 'title'; allowed: groups, lang"):
        read_access_meta(doc, root)


@pytest.mark.parametrize("key", ["group", "Groups", "acl"])
def test_front_matter_groups_typo_fails_closed(root: Path, key: str) -> None:
    doc = root / "secret.md"
    doc.write_text(f"---\n{key}: [hr]\n---\nbody\n")
    with pytest.raises(AccessMetaError, match='did you mean "groups"'):
        read_access_meta(doc, root)


def test_broken_front_matter_yaml(root: Path) -> None:
    doc = root / "broken.md"
    doc.write_text("---\ngroups: [hr\ntitle: x\n---\nbody\n")
    with pytest.raises(AccessMetaError, match=r"broken\.md: invalid YAML front matter"):
        read_access_meta(doc, root)


def test_path_outside_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    other = tmp_path / "elsewhere.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match="not under the ingest root"):
        read_access_meta(other, tmp_path / "root")


def test_is_sidecar() -> None:
    assert is_sidecar(Path("a/report.pdf.meta.json"))
    assert is_sidecar(Path("a/_access.json"))
    assert not is_sidecar(Path("a/report.pdf"))
    assert not is_sidecar(Path("a/meta.json"))


def test_sidecar_fingerprint_tracks_permission_files(root: Path) -> None:
    doc = root / "hr" / "payroll" / "bands.xlsx"
    doc.write_bytes(b"x")
    base = sidecar_fingerprint(doc, root)
    assert base == sidecar_fingerprint(doc, root)
    write_json(root / "hr" / "_access.json", {"groups": ["hr"]})
    with_dir = sidecar_fingerprint(doc, root)
    assert with_dir != base
    write_json(root / "hr" / "payroll" / "bands.xlsx.meta.json", {"groups": ["hr", "finance"]})
    with_sidecar = sidecar_fingerprint(doc, root)
    assert with_sidecar not in (base, with_dir)
    write_json(root / "hr" / "payroll" / "bands.xlsx.meta.json", {"groups": ["finance"]})
    assert sidecar_fingerprint(doc, root) != with_sidecar
    # Another file's sidecar does not change this document's fingerprint.
    current = sidecar_fingerprint(doc, root)
    write_json(root / "hr" / "payroll" / "other.csv.meta.json", {"groups": ["x"]})
    assert sidecar_fingerprint(doc, root) == current


def test_strip_front_matter() -> None:
    text = "---\ntitle: T\ngroups: [hr]\n---\n# Body\n"
    meta, body, offset = strip_front_matter(text)
    assert meta == {"title": "T", "groups": ["hr"]}
    assert body == "# Body\n" and text[offset:] == body
    assert strip_front_matter("# No front matter\n") == ({}, "# No front matter\n", 0)
    # Unclosed: not front matter.
    assert strip_front_matter("---\ntitle: T\n# Body\n")[2] == 0
    # "..." closes YAML documents too; CRLF and a BOM are fine.
    meta, body, _ = strip_front_matter("\ufeff---\r\nlang: en\r\n...\r\nbody")
    assert (meta, body) == ({"lang": "en"}, "body")
    # A leading thematic break followed by prose is not front matter.
    prose = "---\nJust prose, no keys.\n---\nmore"
    assert strip_front_matter(prose) == ({}, prose, 0)
    with pytest.raises(AccessMetaError, match="front matter must be a YAML mapping"):
        strip_front_matter("---\n- groups: [hr]\n---\nbody")


def test_docs_corpus_sidecars_are_valid() -> None:
    corpus = Path(__file__).resolve().parents[2] / "docs_corpus"
    docs = [p for p in corpus.rglob("*") if p.is_file() and not is_sidecar(p)] if corpus.is_dir() else []
    if not docs:
        pytest.skip(f"{corpus} has no documents: rebuild them with python scripts/build_docs_corpus.py")
    groups = {g for p in docs for g in read_access_meta(p, corpus).groups}
    assert "public" in groups and len(groups) > 1
