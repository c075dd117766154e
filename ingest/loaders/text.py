"""Plain text: encoding detection (UTF-8, UTF-8-BOM, UTF-16-BOM, Shift_JIS/CP932, EUC-JP, others)
and a streamed reader, shared by the text, Markdown and CSV loaders.

Memory stays bounded whatever the file size: the encoding is sniffed from the first 64 KiB,
then the file is decoded in 1 MiB pieces with an incremental decoder and blocks are yielded
as soon as they are complete.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.loaders.base import LoadError, make_block
from ingest.types import Block

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
READ_BYTES = 1024 * 1024
# A paragraph longer than this (chars) is cut, so one huge line cannot hold the whole file
# in memory; the cut prefers a line end, then a sentence end, then a space.
MAX_BLOCK_CHARS = 32 * 1024
# Share of control / replacement characters above which decoded bytes are taken for binary.
_MAX_JUNK_RATIO = 0.02

_JUNK = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_HALFWIDTH_OR_PRIVATE = re.compile("[\uff61-\uff9f\ue000-\uf8ff]")
_PARA_BREAK = re.compile(r"\n[ \t\f\v]*\n")
_SENTENCE_ENDS = ("。", "．", "！", "？", ". ", "! ", "? ")

_PREFERRED_SINGLE_BYTE = ("cp1252", "latin_1", "iso8859_15")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def binary_error(path: Path) -> LoadError:
    return LoadError(
        path,
        "binary data in a text file (NUL bytes or undecodable content): "
        "check the file extension, or convert it to UTF-8 text",
    )


def looks_binary(head: bytes) -> bool:
    """NUL bytes in text that has no UTF-16/32 byte-order mark."""
    return b"\x00" in head and not any(head.startswith(bom) for bom, _ in _BOMS)


def _try_decode(data: bytes, encoding: str, final: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(data, final)
    except (UnicodeDecodeError, LookupError):
        return None


def _junk_ratio(text: str) -> float:
    return len(_JUNK.findall(text)) / max(1, len(text))


def detect_encoding_of_bytes(head: bytes, *, complete: bool, path: Path) -> str:
    """The Python codec name for text whose first bytes are ``head``.

    ``complete`` says ``head`` is the whole file (otherwise a multi-byte character may be cut
    at its end, which must not count as an error). Raises LoadError for binary data.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if looks_binary(head):
        raise binary_error(path)
    if _try_decode(head, "utf-8", complete) is not None:
        return "utf-8-sig"
    # Japanese legacy encodings first: charset detectors often mistake short Japanese text
    # for Chinese or Cyrillic codecs. EUC-JP bytes frequently also decode as CP932 (as
    # half-width katakana), the reverse rarely: when both decode, keep the one with fewer
    # half-width katakana / private-use characters (ties go to CP932, the Windows default).
    decoded = [
        (encoding, text)
        for encoding in ("cp932", "euc_jp")
        if (text := _try_decode(head, encoding, complete)) is not None
        and _junk_ratio(text) <= _MAX_JUNK_RATIO
    ]
    if decoded:
        decoded.sort(key=lambda pair: len(_HALFWIDTH_OR_PRIVATE.findall(pair[1])))
        return decoded[0][0]
    guess = _charset_normalizer_guess(head)
    if guess is None:
        raise binary_error(path)
    guessed_text = _try_decode(head, guess, complete)
    if guessed_text is None or _junk_ratio(guessed_text) > _MAX_JUNK_RATIO:
        raise binary_error(path)
    return guess


def _charset_normalizer_guess(head: bytes) -> str | None:
    """charset-normalizer's guess; among equally clean candidates prefer Windows-1252.

    Short Western European text decodes equally cleanly in half a dozen code pages
    (cp1257, cp775, ...) and the detector's tie-break is arbitrary ("café" -> "cafķ").
    """
    from charset_normalizer import from_bytes

    results = from_bytes(head)
    matches = list(results)
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= least_chaos + 0.01]
    for preferred in _PREFERRED_SINGLE_BYTE:
        if any(preferred in m.could_be_from_charset for m in clean):
            return preferred
    best = results.best()
    return best.encoding if best is not None else None


def detect_encoding(path: Path) -> str:
    """Sniff ``path``'s encoding from its first 64 KiB (see :func:`detect_encoding_of_bytes`)."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        complete = not f.read(1)
    if not head:
        raise LoadError(path, "empty file")
    return detect_encoding_of_bytes(head, complete=complete, path=path)


def iter_decoded(path: Path, encoding: str, piece_bytes: int = READ_BYTES) -> Iterator[str]:
    """Decoded text of ``path`` in pieces of about ``piece_bytes``; newlines left as in the file.

    Bytes that do not decode after the sniffed head (a corrupt tail, a mixed-encoding file)
    are replaced with U+FFFD rather than losing the whole file; a warning is logged.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as f:
        while True:
            data = f.read(piece_bytes)
            final = not data
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as e:
                log.warning("%s: bytes not valid %s (%s); replacing them with U+FFFD", path, encoding, e)
                # Up to 3 bytes pending in the old decoder are lost with it.
                decoder = codecs.getincrementaldecoder(encoding)("replace")
                text = decoder.decode(data, final)
            if text:
                yield text
            if final:
                return


def iter_normalized(pieces: Iterable[str]) -> Iterator[str]:
    """The same text with ``\\r\\n`` and ``\\r`` turned into ``\\n``, even across piece edges."""
    carry = ""
    for piece in pieces:
        piece = carry + piece
        carry = ""
        if piece.endswith("\r"):
            piece, carry = piece[:-1], "\r"
        yield piece.replace("\r\n", "\n").replace("\r", "\n")
    if carry:
        yield "\n"


def iter_lines(pieces: Iterable[str]) -> Iterator[str]:
    """Lines with their endings kept (``\\r\\n`` too), as ``csv.reader`` expects."""
    buf = ""
    for piece in pieces:
        buf += piece
        lines = buf.split("\n")
        buf = lines.pop()
        for line in lines:
            yield line + "\n"
    if buf:
        yield buf


def _cut_point(text: str, limit: int) -> int:
    """Where to cut an over-long paragraph: after a line end, a sentence end or a space."""
    floor = limit // 2
    cut = text.rfind("\n", floor, limit)
    if cut >= 0:
        return cut + 1
    ends = [text.rfind(end, floor, limit) for end in _SENTENCE_ENDS]
    best = max(ends)
    if best >= 0:
        return best + 1
    cut = text.rfind(" ", floor, limit)
    return cut + 1 if cut >= 0 else limit


def iter_paragraphs(pieces: Iterable[str], max_chars: int = MAX_BLOCK_CHARS) -> Iterator[str]:
    """Paragraphs of newline-normalised text: runs of lines between blank lines.

    Memory is one piece plus one unfinished paragraph (at most ``max_chars``).
    """
    buf = ""
    for piece in pieces:
        buf += piece
        start = 0
        for m in _PARA_BREAK.finditer(buf):
            yield buf[start : m.start()]
            start = m.end() - 1  # keep the last "\n" so a following blank line still matches
        buf = buf[start:]
        while len(buf) > max_chars:
            cut = _cut_point(buf, max_chars)
            yield buf[:cut]
            buf = buf[cut:]
    if buf:
        yield buf


def load_text(path: Path) -> Iterator[Block]:
    """Blocks of a plain-text file: one ``paragraph`` block per blank-line-separated paragraph."""
    encoding = detect_encoding(path)
    for paragraph in iter_paragraphs(iter_normalized(iter_decoded(path, encoding))):
        block = make_block(paragraph, "paragraph")
        if block is not None:
            yield block
