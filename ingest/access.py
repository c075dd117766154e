"""Who may see a document, and its metadata, from files next to it.

Sources, weakest first (a later one overrides the keys it sets):

1. ``_access.json`` in the ingest root and in every folder down to the file's folder,
   e.g. ``{"groups": ["hr"]}``: a default for every file below it.
2. Markdown YAML front matter (``---`` ... ``---`` at the top of the file).
3. The file's own sidecar ``<filename>.meta.json``, e.g. ``report.pdf.meta.json``:
   ``{"groups": ["hr", "eng"], "title": "...", "date": "2024-05-01", "lang": "ja"}``.

With none of them a document is ``("public",)``. A malformed source raises
:class:`AccessMetaError` naming the file and the problem: failing closed, because a typo in a
permission file must not make a restricted document public.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SIDECAR_SUFFIX = ".meta.json"
DIR_ACCESS_FILE = "_access.json"
DEFAULT_GROUPS: tuple[str, ...] = ("public",)
GROUP_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
# Keys of a sidecar; anything else must go under "extra" (a typo such as "group" is an error).
SIDECAR_KEYS = ("groups", "title", "date", "lang", "extra")
DIR_ACCESS_KEYS = ("groups", "lang")
# Front matter is written for other tools too: unknown keys go to extra, except near-misses of
# "groups", which would otherwise silently leave a restricted document public.
_GROUPS_LOOKALIKES = frozenset({"group", "acl", "access", "permissions", "roles", "allowed_groups"})
_LANG_PATTERN = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_FRONT_MATTER_OPEN = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_YAML_KEY_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?[A-Za-z_][\w-]*[ \t]*:", re.MULTILINE)
# Front matter is looked for in the first 1 MiB of a Markdown file.
FRONT_MATTER_MAX_CHARS = 1024 * 1024
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


class AccessMetaError(ValueError):
    """A sidecar, ``_access.json`` or front matter is malformed."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class AccessMeta:
    """Access groups and descriptive metadata of one file. ``date`` is ISO ``YYYY-MM-DD``;
    ``lang`` a lower-case primary language subtag (``"ja"``, ``"en"``)."""

    groups: tuple[str, ...] = DEFAULT_GROUPS
    title: str | None = None
    date: str | None = None
    lang: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def is_sidecar(path: Path) -> bool:
    """True for metadata files the ingest must not index as documents."""
    return path.name.endswith(SIDECAR_SUFFIX) or path.name == DIR_ACCESS_FILE


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def strip_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """Split YAML front matter off Markdown text: ``(meta, body, offset)``, ``body == text[offset:]``.

    Text without front matter gives ``({}, text, 0)``. A leading ``---`` block that is not YAML
    key/value lines is a thematic break, not front matter. Raises AccessMetaError (path
    ``"<front matter>"``) when the block looks like front matter but is not a valid YAML mapping.
    """
    opening = _FRONT_MATTER_OPEN.match(text)
    if opening is None:
        return {}, text, 0
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end(), opening.end() + FRONT_MATTER_MAX_CHARS)
    if closing is None:
        return {}, text, 0
    raw = text[opening.end() : closing.start()]
    looks_like_yaml = bool(_YAML_KEY_LINE.search(raw)) or not raw.strip()
    try:
        meta = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError as e:
        if not looks_like_yaml:
            return {}, text, 0
        raise AccessMetaError("<front matter>", f"invalid YAML front matter: {e}") from e
    if not isinstance(meta, dict):
        if not looks_like_yaml:
            return {}, text, 0
        raise AccessMetaError(
            "<front matter>", f"front matter must be a YAML mapping (key: value), got {type(meta).__name__}"
        )
    offset = closing.end()
    if text.startswith("\r\n", offset):
        offset += 2
    elif text.startswith("\n", offset):
        offset += 1
    return {str(k): v for k, v in meta.items()}, text[offset:], offset


def _validate_groups(source: Path, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise AccessMetaError(
            source, f'"groups" must be a list of group names, e.g. ["{value}"], not a string'
        )
    if not isinstance(value, list):
        raise AccessMetaError(source, f'"groups" must be a list of group names, got {type(value).__name__}')
    if not value:
        raise AccessMetaError(source, '"groups" is empty: list at least one group (["public"] for everyone)')
    groups: list[str] = []
    for g in value:
        if not isinstance(g, str) or not GROUP_PATTERN.match(g):
            raise AccessMetaError(
                source, f"bad group name {g!r}: use non-empty names of letters, digits, '_', '.', '-'"
            )
        if g not in groups:
            groups.append(g)
    return tuple(groups)


def _validate_date(source: Path, value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            try:
                return dt.datetime.fromisoformat(value).date().isoformat()
            except ValueError:
                pass
    raise AccessMetaError(source, f'bad "date" {value!r}: use an ISO date such as "2024-05-01"')


def _validate_lang(source: Path, value: Any) -> str:
    if not isinstance(value, str) or not _LANG_PATTERN.match(value):
        raise AccessMetaError(source, f'bad "lang" {value!r}: use a language code such as "ja" or "en"')
    return re.split(r"[-_]", value)[0].lower()


def _validate_title(source: Path, value: Any) -> str:
    if not isinstance(value, str | int | float):
        raise AccessMetaError(source, f'"title" must be a string, got {type(value).__name__}')
    return str(value)


_DESCRIPTIVE: dict[str, Callable[[Path, Any], str]] = {
    "title": _validate_title,
    "date": _validate_date,
    "lang": _validate_lang,
}


def _json_safe(value: Any) -> Any:
    """YAML dates and datetimes as ISO strings, so ``extra`` stays JSON-serialisable."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


def _validate(source: Path, data: dict[str, Any], *, strict_keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Checked values of the known keys; unknown keys go to ``extra`` unless ``strict_keys``.

    ``strict_keys=None`` is front matter: lenient except for ``groups`` (a bad title, date or
    lang is kept under ``extra`` instead of failing the document).
    """
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if strict_keys is not None and key not in strict_keys:
            hint = ' (put other data under "extra")' if "extra" in strict_keys else ""
            raise AccessMetaError(source, f"unknown key {key!r}; allowed: {', '.join(strict_keys)}{hint}")
        if key == "groups":
            out["groups"] = _validate_groups(source, value)
        elif key in ("title", "date", "lang"):
            if value is None:
                continue
            try:
                out[key] = _DESCRIPTIVE[key](source, value)
            except AccessMetaError:
                if strict_keys is not None:
                    raise
                extra[key] = _json_safe(value)  # front matter written for another tool: keep, don't fail
        elif key == "extra" and strict_keys is not None:
            if not isinstance(value, dict):
                raise AccessMetaError(source, f'"extra" must be an object, got {type(value).__name__}')
            extra.update(value)
        elif key.lower() in _GROUPS_LOOKALIKES or key.lower() == "groups":
            raise AccessMetaError(
                source, f'unknown key {key!r}: did you mean "groups"? (a list of group names)'
            )
        else:
            extra[key] = _json_safe(value)
    if extra:
        out["extra"] = extra
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise AccessMetaError(path, f"not UTF-8 text ({e.reason}): save it as UTF-8 JSON") from e
    except json.JSONDecodeError as e:
        raise AccessMetaError(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    if not isinstance(data, dict):
        raise AccessMetaError(
            path, f'must be a JSON object such as {{"groups": ["hr"]}}, got {type(data).__name__}'
        )
    return data


def _dir_access_files(path: Path, root: Path) -> list[Path]:
    """``_access.json`` files that apply to ``path``, outermost (root) first."""
    try:
        rel = path.resolve().parent.relative_to(root.resolve())
    except ValueError as e:
        raise ValueError(f"{path} is not under the ingest root {root}") from e
    folders = [root]
    for part in rel.parts:
        folders.append(folders[-1] / part)
    return [f / DIR_ACCESS_FILE for f in folders if (f / DIR_ACCESS_FILE).is_file()]


def _front_matter(path: Path) -> dict[str, Any]:
    from ingest.loaders.text import SNIFF_BYTES, detect_encoding_of_bytes

    with path.open("rb") as f:
        head = f.read(FRONT_MATTER_MAX_CHARS + SNIFF_BYTES)
        complete = not f.read(1)
    if not head.lstrip(b"\xef\xbb\xbf").startswith(b"---"):
        return {}
    encoding = detect_encoding_of_bytes(head[:SNIFF_BYTES], complete=complete, path=path)
    text = head.decode(encoding, errors="replace")
    try:
        meta, _, _ = strip_front_matter(text)
    except AccessMetaError as e:
        raise AccessMetaError(path, e.problem) from e
    return meta


def read_access_meta(path: Path, root: Path) -> AccessMeta:
    """The AccessMeta of ``path`` (a file under ``root``); raises AccessMetaError when malformed."""
    merged: dict[str, Any] = {}
    extra: dict[str, Any] = {}

    def apply(values: dict[str, Any]) -> None:
        extra.update(values.pop("extra", {}))
        merged.update(values)

    for access_file in _dir_access_files(path, root):
        apply(_validate(access_file, _read_json(access_file), strict_keys=DIR_ACCESS_KEYS))
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        apply(_validate(path, _front_matter(path), strict_keys=None))
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        apply(_validate(sidecar, _read_json(sidecar), strict_keys=SIDECAR_KEYS))
    return AccessMeta(
        groups=merged.get("groups", DEFAULT_GROUPS),
        title=merged.get("title"),
        date=merged.get("date"),
        lang=merged.get("lang"),
        extra=extra,
    )


def sidecar_fingerprint(path: Path, root: Path) -> str:
    """SHA-256 (hex) over the ``_access.json`` files and sidecar that apply to ``path``.

    Changes when any of them is added, removed or edited, so the ingest can re-index a
    document whose permissions changed although its bytes did not. (Front matter is part of
    the file's own content hash.)
    """
    h = hashlib.sha256()
    files = _dir_access_files(path, root)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        files.append(sidecar)
    for f in files:
        data = f.read_bytes()
        h.update(f"{f.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()
