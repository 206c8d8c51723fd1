"""Text as CodeQuest reads it: decoding, byte-order marks, line lengths and digests.

Written once and shared by discovery (reading a file to index), the indexer (the digests
that decide what to re-embed, each chunk's end-line lengths) and the language server
(line lengths of files whose index predates those lengths). Lines end at ``"\\n"`` only,
the way tree-sitter counts rows; a trailing ``"\\r"`` is not part of a line's length.
"""

from __future__ import annotations

import hashlib

# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
UTF8_BOM = b"\xef\xbb\xbf"
# A NUL byte this early (without a UTF-16/32 mark) means a binary file.
SNIFF_BYTES = 8192
DIGEST_SIZE = 16


def wide_codec(data: bytes) -> tuple[bytes, str] | None:
    """The UTF-16/32 byte-order mark ``data`` starts with, and its codec; None without one."""
    for bom, codec in WIDE_BOMS:
        if data.startswith(bom):
            return bom, codec
    return None


def decode(data: bytes) -> str | None:
    """Text from a file's bytes, or None when they look binary (a NUL in the first
    :data:`SNIFF_BYTES` without a UTF-16/32 mark).

    UTF-8 with invalid bytes replaced by U+FFFD; a UTF-8 mark is dropped, and bytes with a
    UTF-16/32 mark are decoded as such (the mark dropped).
    """
    wide = wide_codec(data)
    if wide is not None:
        bom, codec = wide
        return data[len(bom) :].decode(codec, errors="replace")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def split_lines(data: bytes) -> list[bytes] | list[str]:
    """A file's lines split at ``\\n`` as the chunker counts them: bytes (UTF-8 marks
    dropped), or str for UTF-16/32 files, whose bytes cannot be split at a newline byte."""
    wide = wide_codec(data)
    if wide is not None:
        return data.decode(wide[1], errors="replace").lstrip("\ufeff").split("\n")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    return data.split(b"\n")


def line_units(line: str) -> tuple[int, int, int]:
    """A line's length (a trailing CR not counted) in UTF-8 bytes, UTF-16 code units and
    code points: the three position encodings an LSP client may negotiate."""
    line = line.rstrip("\r")
    if line.isascii():
        return (len(line), len(line), len(line))
    return (
        len(line.encode("utf-8", errors="surrogatepass")),
        len(line.encode("utf-16-le", errors="surrogatepass")) // 2,
        len(line),
    )


def file_hash(text: str) -> str:
    """The digest of a file's decoded text: equal digests mean nothing to re-chunk."""
    # surrogatepass: text decoded with surrogateescape must hash, not raise.
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).hexdigest()


def content_hash(language: str, kind: str, symbol: str, text: str) -> str:
    """A stable digest of what gets embedded, so unchanged chunks can reuse their vectors."""
    digest = hashlib.blake2b(digest_size=DIGEST_SIZE)
    for part in (language, kind, symbol, text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()
