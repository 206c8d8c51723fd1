"""CodeQuest: local semantic code search.

The public surface is small: a :class:`Config`, the :class:`Workspace` that indexes and
searches one folder, and the frozen records it returns. The engine never imports pygls;
the language server in :mod:`codequest.lsp` is a thin layer on top of it.
"""

from codequest.config import Config
from codequest.errors import ConfigError
from codequest.types import Chunk, IndexReport, SearchFilters, SearchResult

__all__ = [
    "Chunk",
    "Config",
    "ConfigError",
    "IndexReport",
    "SearchFilters",
    "SearchResult",
    "Workspace",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Workspace pulls in numpy/usearch; keep `import codequest` cheap for the CLI's --help.
    if name == "Workspace":
        from codequest.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'codequest' has no attribute {name!r}")
