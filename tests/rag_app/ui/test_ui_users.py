from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag_app.ui.users import USERS_FORMAT, UsersFile, parse_users


def test_add_then_authenticate_with_groups(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.jsonl")
    users.add("aiko", "correct horse", ["hr", "finance"], admin=True)
    user = users.authenticate("aiko", "correct horse")
    assert user is not None and user.groups == ("finance", "hr") and user.admin and user.signed_in
    assert users.authenticate("aiko", "wrong password") is None
    assert users.authenticate("nobody", "correct horse") is None


def test_password_never_stored_or_logged_in_clear(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "users.jsonl"
    with caplog.at_level(logging.DEBUG):
        UsersFile(path).add("ken", "s3cret-passphrase", [])
        UsersFile(path).authenticate("ken", "s3cret-passphrase")
    text = path.read_text(encoding="utf-8")
    assert "s3cret-passphrase" not in text and "s3cret-passphrase" not in caplog.text
    assert json.loads(text.splitlines()[1])["password"].startswith("$argon2id$")
    assert path.stat().st_mode & 0o077 == 0  # owner-only


def test_bad_lines_are_reported_and_the_others_still_sign_in(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    UsersFile(path).add("aiko", "correct horse", ["hr"])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines += ["{not json", json.dumps({"name": "bob", "groups": ["hr"]}),
              json.dumps({"name": "eve", "groups": ["bad group!"], "password": "$argon2id$x"}),
              json.dumps({"name": "mal", "groups": [], "password": "plaintext"}), lines[1]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = UsersFile(path).load()
    assert list(table.users) == ["aiko"]
    reasons = {p.line: p.reason for p in table.problems}
    assert reasons[3] == "not valid JSON"
    assert reasons[4] == "missing password"
    assert "invalid group name 'bad group!'" in reasons[5]
    assert "not an argon2 hash" in reasons[6] and "plaintext" not in reasons[6]
    assert "given again" in reasons[7]
    assert UsersFile(path).authenticate("aiko", "correct horse") is not None
    with pytest.raises(ValueError, match="has lines ragqa cannot read"):
        UsersFile(path).add("new", "another password", [])  # rewriting would drop the bad lines


def test_a_file_without_the_header_or_of_another_version_holds_no_user() -> None:
    assert parse_users('{"name": "a", "groups": [], "password": "$argon2id$x"}\n').users == {}
    other = parse_users(json.dumps({"format": USERS_FORMAT, "version": 9}) + "\n")
    assert other.users == {} and "version 9" in other.problems[0].reason


def test_add_checks_name_password_groups_and_duplicates(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "u.jsonl")
    with pytest.raises(ValueError, match="invalid user name 'a b'"):
        users.add("a b", "long enough pw", [])
    with pytest.raises(ValueError, match="password too short"):
        users.add("a", "short", [])
    with pytest.raises(ValueError, match=r"group '\*'"):
        users.add("a", "long enough pw", ["*"])
    users.add("a", "long enough pw", [])
    with pytest.raises(ValueError, match=r"already exists.*--replace"):
        users.add("a", "long enough pw", [])
    users.add("a", "a new password", ["hr"], replace=True)
    assert users.authenticate("a", "a new password") is not None
    users.remove("a")
    assert users.authenticate("a", "a new password") is None
    with pytest.raises(ValueError, match="no user 'a'"):
        users.remove("a")
