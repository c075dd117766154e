"""The local users file and sign-in: who is asking, and which groups reach their retrievals.

Format (JSON Lines, UTF-8), written by ``ragqa users add``::

    {"format": "ragqa-users", "version": 1}
    {"name": "aiko", "groups": ["hr"], "admin": false, "password": "$argon2id$v=19$..."}

Passwords are argon2id hashes (argon2-cffi); the clear password is never stored or logged.
A bad line (not JSON, a missing field, a bad group name, a hash that is not argon2, a name
given twice) is reported with its line number and skipped: the other users still sign in.
A file without the header, or of another version, holds no usable user (fail closed).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.permissions import normalise_groups

USERS_FORMAT = "ragqa-users"
USERS_VERSION = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS = 8
INSTALL_HINT = 'pip install "argon2-cffi>=23.1"  (or: pip install -e ".[ui]")'


@dataclass(frozen=True, slots=True)
class User:
    """Who is asking. ``groups`` reach every retrieval ("public" is always added there);
    ``admin`` may manage documents and read feedback and reports. ``signed_in`` is False for the
    public user of a page without a users file."""

    name: str
    groups: tuple[str, ...] = ()
    admin: bool = False
    signed_in: bool = True


PUBLIC_USER = User(name="public", groups=(), admin=False, signed_in=False)


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    groups: tuple[str, ...]
    admin: bool
    password_hash: str

    def user(self) -> User:
        return User(name=self.name, groups=self.groups, admin=self.admin)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "groups": list(self.groups), "admin": self.admin,
                "password": self.password_hash}


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int  # 1-based
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class UsersTable:
    users: dict[str, UserRecord]
    problems: tuple[LineProblem, ...] = ()


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise ImportError(f"the users file needs argon2-cffi: {INSTALL_HINT}") from None
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; a new hash each call)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password too short ({len(password)} characters): use at least {MIN_PASSWORD_CHARS}")
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValueError(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@', '-'")
    return name


def check_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """The groups as given (validated, deduplicated, sorted); "*" is refused: a user sees what
    their groups allow, and no page user sees everything."""
    gs = tuple(sorted({g.strip() for g in groups if g.strip()}))
    if "*" in gs:
        raise ValueError("group '*' (every document) cannot be given to a page user; name the groups, e.g. hr,finance")
    normalise_groups(gs)  # raises ValueError naming a bad group
    return gs


def _record(line: str) -> UserRecord:
    """One user line -> record; ValueError saying what is wrong (never echoing the hash)."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError:
        raise ValueError("not valid JSON") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("name", "groups", "password") if k not in d]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    name, groups, pw = d["name"], d["groups"], d["password"]
    if not isinstance(name, str):
        raise ValueError("name is not a string")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ValueError(f"groups of {name!r} is not a list of names")
    if not isinstance(pw, str) or not pw.startswith("$argon2"):
        raise ValueError(f"password of {name!r} is not an argon2 hash: set it again with `ragqa users add {name} --replace`")
    return UserRecord(name=check_name(name), groups=check_groups(groups), admin=bool(d.get("admin", False)),
                      password_hash=pw)


def parse_users(text: str) -> UsersTable:
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        return UsersTable({})
    try:
        header = json.loads(lines[first])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != USERS_FORMAT:
        return UsersTable({}, (LineProblem(first + 1, f'not a ragqa users file: the first line must be '
                                                      f'{{"format": "{USERS_FORMAT}", "version": {USERS_VERSION}}}'),))
    if header.get("version") != USERS_VERSION:
        return UsersTable({}, (LineProblem(first + 1, f"users file version {header.get('version')!r}; this ragqa "
                                                      f"reads version {USERS_VERSION}"),))
    users: dict[str, UserRecord] = {}
    problems: list[LineProblem] = []
    for i, line in enumerate(lines[first + 1:], start=first + 2):
        if not line.strip():
            continue
        try:
            rec = _record(line)
        except ValueError as e:
            problems.append(LineProblem(i, str(e)))
            continue
        if rec.name in users:
            problems.append(LineProblem(i, f"user {rec.name!r} is given again (the first one counts)"))
            continue
        users[rec.name] = rec
    return UsersTable(users, tuple(problems))


def format_users(users: Sequence[UserRecord]) -> str:
    header = json.dumps({"format": USERS_FORMAT, "version": USERS_VERSION})
    return "\n".join([header] + [json.dumps(u.to_dict(), ensure_ascii=False) for u in users]) + "\n"


class UsersFile:
    """The users file at ``path``: read (re-read when it changes on disk), sign-in, add, remove.
    Thread-safe; writes replace the file atomically with owner-only permissions."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int], UsersTable] | None = None
        self._dummy_hash: str | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> UsersTable:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return UsersTable({})
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, parse_users(self.path.read_text(encoding="utf-8", errors="replace")))
            return self._cache[1]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None. An unknown name costs one hash check
        too, so timing does not tell which names exist."""
        rec = self.load().users.get(name)
        if rec is None:
            if self._dummy_hash is None:
                self._dummy_hash = _hasher().hash("not-a-password-of-anyone")
            verify_password(self._dummy_hash, password)
            return None
        return rec.user() if verify_password(rec.password_hash, password) else None

    def add(self, name: str, password: str, groups: Sequence[str] = (), *, admin: bool = False,
            replace: bool = False) -> User:
        rec = UserRecord(name=check_name(name), groups=check_groups(groups), admin=admin,
                         password_hash=hash_password(password))
        with self._lock:
            table = self._read_for_write()
            if name in table.users and not replace:
                raise ValueError(f"user {name!r} already exists in {self.path}: pass --replace to set a new "
                                 "password and groups")
            users = dict(table.users)
            users[name] = rec
            self._write(list(users.values()))
        return rec.user()

    def remove(self, name: str) -> None:
        with self._lock:
            table = self._read_for_write()
            if name not in table.users:
                raise ValueError(f"no user {name!r} in {self.path}; users: {', '.join(sorted(table.users)) or 'none'}")
            self._write([u for n, u in table.users.items() if n != name])

    def _read_for_write(self) -> UsersTable:
        if not self.path.exists():
            return UsersTable({})
        table = parse_users(self.path.read_text(encoding="utf-8", errors="replace"))
        if table.problems:  # rewriting would drop the bad lines: make the person fix them first
            raise ValueError(f"{self.path} has lines ragqa cannot read ({'; '.join(map(str, table.problems))}); "
                             "fix or delete them, then run the command again")
        return table

    def _write(self, users: Sequence[UserRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(format_users(users))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache = None
