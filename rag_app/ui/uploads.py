"""Uploaded files: checked by name and size before a byte is read, saved into the uploads folder
with their access groups, removed again.

The uploads folder is ingested as one root (``RAG.ingest([uploads_dir])``, pruning): a file
deleted from it leaves the index on that ingest, and nothing ingested from other folders is
touched. Groups go into the file's sidecar (``<name>.meta.json``, ``ingest.access``), so the
ingest applies them like for any other document.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import BinaryIO

from ingest.access import SIDECAR_SUFFIX
from ingest.loaders import SUPPORTED_EXTENSIONS
from rag_app.ui.users import check_groups

COPY_BLOCK = 1 << 20  # bytes copied at a time: an upload is never held twice in memory
_UNSAFE = re.compile(r"[^\w.\- ()\u3000-\u9fff\uff00-\uffef]")


def upload_problem(name: str, size: int, max_bytes: int) -> str | None:
    """Why an upload is refused, in words (None: accepted). Looks only at the name and the size
    the browser declared, so a 200 MB file is refused before it is read."""
    ext = PurePath(name).suffix.lower().lstrip(".")
    if ext not in SUPPORTED_EXTENSIONS and ext not in ("htm", "markdown"):
        return (f"{name}: unsupported file type {('.' + ext) if ext else '(no extension)'}; "
                f"supported: {', '.join('.' + e for e in SUPPORTED_EXTENSIONS)}")
    if size > max_bytes:
        return (f"{name}: {size / 2**20:,.1f} MB is over the {max_bytes / 2**20:,.0f} MB upload limit; "
                "put large files in a folder and ingest the folder instead")
    if size == 0:
        return f"{name}: the file is empty"
    return None


def safe_name(name: str) -> str:
    """A file name that cannot leave the uploads folder ("../x" -> "x"); letters of any script kept."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if not cleaned:
        raise ValueError(f"upload name {name!r} has no usable characters; rename the file")
    return cleaned


def save_upload(stream: BinaryIO, name: str, uploads_dir: Path, groups: Sequence[str] = ()) -> Path:
    """Write ``stream`` to ``uploads_dir/<safe name>`` (replacing a file of that name) and its
    groups to the sidecar; the path written."""
    gs = check_groups(groups)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / safe_name(name)
    tmp = target.with_name(f".{target.name}.part")
    with open(tmp, "wb") as out:
        shutil.copyfileobj(stream, out, COPY_BLOCK)
    tmp.replace(target)
    sidecar = target.with_name(target.name + SIDECAR_SUFFIX)
    if gs:
        sidecar.write_text(json.dumps({"groups": list(gs)}, ensure_ascii=False), encoding="utf-8")
    else:
        sidecar.unlink(missing_ok=True)
    return target


def remove_upload(path: Path, uploads_dir: Path) -> None:
    """Delete an uploaded file and its sidecar; ValueError for a path outside ``uploads_dir``."""
    p, root = path.resolve(), uploads_dir.resolve()
    if root not in p.parents:
        raise ValueError(f"{path} is not in the uploads folder {uploads_dir}; only uploaded files are removed here")
    p.unlink(missing_ok=True)
    p.with_name(p.name + SIDECAR_SUFFIX).unlink(missing_ok=True)


def is_upload(doc_root: str, uploads_dir: Path) -> bool:
    return Path(doc_root).resolve() == uploads_dir.resolve()
