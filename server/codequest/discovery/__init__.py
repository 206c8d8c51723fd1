"""Discovery: which files of a workspace are indexed, what each path is, and reading them.

* :mod:`.walk`: :func:`discover`, the walk, with every skip counted by reason;
* :mod:`.ignore`: ``.gitignore``/``.codequestignore``/``exclude`` rules and default-skipped
  directories;
* :mod:`.paths`: test, example, vendored and generated paths, from the name alone (ranking
  demotes them);
* :mod:`.languages`: the language of a file name, and the grammar wheel of each parsed one;
* :mod:`.source`: :func:`read_source`, bytes to text (:mod:`codequest.text` decodes).
"""

from __future__ import annotations

from codequest.discovery.ignore import DEFAULT_IGNORED_DIRS, IGNORE_FILE_NAMES, Skipped
from codequest.discovery.languages import ALL_LANGUAGES, GRAMMAR_WHEELS, detect_language
from codequest.discovery.paths import (
    is_declaration_path,
    is_example_path,
    is_legacy_path,
    is_reexport_path,
    is_test_path,
    is_vendored_or_generated,
)
from codequest.discovery.source import read_source
from codequest.discovery.walk import SKIP_REASONS, discover

__all__ = [
    "ALL_LANGUAGES",
    "DEFAULT_IGNORED_DIRS",
    "GRAMMAR_WHEELS",
    "IGNORE_FILE_NAMES",
    "SKIP_REASONS",
    "Skipped",
    "detect_language",
    "discover",
    "is_declaration_path",
    "is_example_path",
    "is_legacy_path",
    "is_reexport_path",
    "is_test_path",
    "is_vendored_or_generated",
    "read_source",
]
