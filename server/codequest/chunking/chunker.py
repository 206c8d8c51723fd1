"""``definition_chunks``: one file's text to one chunk per definition, windows between.

The index uses sized chunks (:mod:`.sized`); this is the cut by definitions that tests of
the grammars and the distillation's mining of (name, code) pairs read."""

from __future__ import annotations

from codequest.chunking.definitions import Definition, DefinitionWalker, trim_headers
from codequest.chunking.parsers import RULES, grammar, parser
from codequest.chunking.windows import MAX_CHUNK_CHARS, Emitter, gaps, is_blank, trim_blank_edges
from codequest.types import Chunk, ChunkKind

# A short file with a line longer than MAX_CHUNK_CHARS is minified: definitions that share one
# huge line cannot be told apart in the text anyway, so it gets plain windows. A file with at
# least this many lines is ordinary code with a long constant in it, and is still parsed.
MINIFIED_MAX_LINES = 20
# Gaps between definitions with fewer non-blank lines than this are noise (a closing brace,
# a lone import) and are not worth a chunk of their own.
MIN_GAP_LINES = 3


def definition_chunks(
    path: str,
    language: str,
    text: str,
    *,
    max_chunk_lines: int = 150,
    window_lines: int = 60,
    window_overlap: int = 15,
    small_class_lines: int = 40,
) -> list[Chunk]:
    """Split one file into chunks sorted by ``(start_line, end_line)``.

    Files in ``supported_languages()`` are split at definitions, the code between them goes
    into windows; other languages, and minified files (fewer than ``MINIFIED_MAX_LINES``
    lines, one of them longer than ``MAX_CHUNK_CHARS``), are windows only. Whitespace-only
    files give ``[]``.
    """
    if window_lines < 1 or not 0 <= window_overlap < window_lines:
        raise ValueError(
            f"need window_lines >= 1 and 0 <= window_overlap < window_lines, "
            f"got window_lines={window_lines}, window_overlap={window_overlap}"
        )
    if max_chunk_lines < 1:
        raise ValueError(f"max_chunk_lines must be >= 1, got {max_chunk_lines}")
    if is_blank(text):
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    emitter = Emitter(path, language, text, lines, window_lines, window_overlap)

    definitions: list[Definition] = []
    minified = len(lines) < MINIFIED_MAX_LINES and max(map(len, lines)) > MAX_CHUNK_CHARS
    if language in RULES and not minified:
        source = text.encode("utf-8", "replace")
        tree = parser(language).parse(source)
        walker = DefinitionWalker(grammar(language), RULES[language], source, small_class_lines)
        definitions = walker.run(tree.root_node)
        trim_headers(definitions)

    for definition in definitions:
        end = min(definition.end, len(lines) - 1)
        if end - definition.start + 1 > max_chunk_lines:
            emitter.emit_windows(definition.start, end, definition.kind, definition.symbol)
        else:
            emitter.emit(definition.start, end, definition.kind, definition.symbol)

    # A file without definitions is all windows, however short: it must stay searchable.
    min_lines = MIN_GAP_LINES if definitions else 1
    covered = [(d.start, d.end) for d in definitions]
    for gap_start, gap_end in gaps(len(lines), covered):
        trimmed = trim_blank_edges(lines, gap_start, gap_end, min_lines)
        if trimmed is not None:
            emitter.emit_windows(trimmed[0], trimmed[1], ChunkKind.WINDOW, "")
    return emitter.sorted()
