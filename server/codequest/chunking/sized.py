"""``chunk_source``: one file's text to sized chunks that know the definitions they hold.

The cut comes from :mod:`.pieces` (pieces of about :data:`CHUNK_CHARS` characters that
follow the syntax tree); the names come from the definition walk
(:class:`~.definitions.DefinitionWalker`), run over every class, however small:

- ``defines``: every definition whose own line (``def``, ``class``) is in the piece, so a
  search for a name finds the piece where it is defined;
- ``symbol`` and ``kind``: the first of those, or else the innermost definition the piece
  lies in (the middle of a long function is still that function), or else a window.
"""

from __future__ import annotations

import re

from codequest.chunking.definitions import Definition, DefinitionWalker
from codequest.chunking.parsers import RULES, grammar, parser
from codequest.chunking.pieces import Span, line_pieces, node_spans, pack
from codequest.chunking.windows import MAX_CHUNK_CHARS, Emitter, is_blank
from codequest.types import Chunk, ChunkKind, DefinedName

# About 200 tokens of code: the teacher reads 256 at most, and a result this size points at
# the place in the code. Chosen on the real-repository set (docs/ranking.md).
CHUNK_CHARS = 750
# A short file with a line longer than MAX_CHUNK_CHARS is minified: definitions that share one
# huge line cannot be told apart in the text anyway, so it gets plain pieces. A file with at
# least this many lines is ordinary code with a long constant in it, and is still parsed.
MINIFIED_MAX_LINES = 20
# C++ in a `.h` file: the C grammar cannot parse templates or classes, so such headers are
# parsed (and labelled) as C++. Looked for in the first part of the file only.
_CPP_HEADER = re.compile(r"\btemplate\s*<|\bnamespace\s+\w+\s*\{|\bclass\s+\w+|\w::\w|\bpublic:")
_SNIFF_CHARS = 65_536


def header_language(path: str, language: str, text: str) -> str:
    """``cpp`` for a ``.h`` file written in C++, else ``language``."""
    if language == "c" and path.endswith(".h") and _CPP_HEADER.search(text, 0, _SNIFF_CHARS):
        return "cpp"
    return language


def chunk_source(path: str, language: str, text: str, *, budget: int = CHUNK_CHARS) -> list[Chunk]:
    """Split one file into chunks sorted by ``(start_line, end_line)``; whitespace-only files
    give ``[]``."""
    if budget < 1:
        raise ValueError(f"budget must be >= 1 character, got {budget}")
    if is_blank(text):
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    lengths = [len(line) for line in lines]
    language = header_language(path, language, text)
    minified = len(lines) < MINIFIED_MAX_LINES and max(lengths) > MAX_CHUNK_CHARS
    definitions: list[Definition] = []
    if language in RULES and not minified:
        source = text.encode("utf-8", "replace")
        root = parser(language).parse(source).root_node
        definitions = DefinitionWalker(grammar(language), RULES[language], source, 0).run(root)
        spans = pack(node_spans(root, budget), lengths, budget)
    else:
        spans = line_pieces(lengths, budget)
    emitter = Emitter(path, language, text, lines, 1, 0)
    for start, end, kind, symbol, defines in annotate(spans, definitions, lines):
        emitter.emit(start, end, kind, symbol, defines)
    return emitter.sorted()


def annotate(
    spans: list[Span], definitions: list[Definition], lines: list[str]
) -> list[tuple[int, int, str, str, tuple[DefinedName, ...]]]:
    """Each piece without its blank edge lines, with its kind, symbol and the names it
    defines; blank pieces are dropped. ``spans`` are disjoint and in order."""
    by_head = sorted(definitions, key=lambda d: d.head)
    by_start = sorted(definitions, key=lambda d: (d.start, -d.end))
    out: list[tuple[int, int, str, str, tuple[DefinedName, ...]]] = []
    h = s = 0
    open_defs: list[Definition] = []  # definitions around the current piece, outermost first
    for start, end in spans:
        while start <= end and is_blank(lines[start]):
            start += 1
        while end >= start and is_blank(lines[end]):
            end -= 1
        if start > end:
            continue
        while h < len(by_head) and by_head[h].head < start:
            h += 1
        heads = []
        while h < len(by_head) and by_head[h].head <= end:
            heads.append(by_head[h])
            h += 1
        while s < len(by_start) and by_start[s].start <= start:
            open_defs.append(by_start[s])
            s += 1
        open_defs = [d for d in open_defs if d.end >= start]
        owner = heads[0] if heads else (open_defs[-1] if open_defs else None)
        kind = owner.kind if owner is not None else ChunkKind.WINDOW
        symbol = owner.symbol if owner is not None else ""
        defines = tuple(DefinedName(d.symbol, d.kind, d.head + 1, d.end + 1) for d in heads)
        out.append((start, end, kind, symbol, defines))
    return out
