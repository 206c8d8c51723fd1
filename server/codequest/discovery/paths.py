"""What a path is, from its name alone: test code, an example, vendored or generated code.

Ranking demotes such files unless a query asks for them, and ``exclude_tests`` leaves test
code out (:mod:`codequest.search`). Discovery skips lock files, minified bundles and source
maps outright (:func:`skipped_by_name`). Nothing here touches the file system.
"""

from __future__ import annotations

# Generated files that discovery skips outright (counted as ``generated``).
_LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "Cargo.lock",
        "poetry.lock",
        "Pipfile.lock",
        "composer.lock",
        "Gemfile.lock",
        "go.sum",
        "uv.lock",
        "pdm.lock",
    }
)
_SKIP_SUFFIXES = (".min.js", ".min.mjs", ".min.css", ".map")

_TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "__test__",
        "spec",
        "specs",
        "testdata",
        "test_data",
        "e2e",
        "__mocks__",
        "__fixtures__",
        "androidtest",
        "unittests",
        "unit_tests",
        "integration_tests",
        "integrationtests",
    }
)
_TEST_STEM_SUFFIXES = ("_test", "_tests", "_spec", "_unittest", "_integration_test")
_TEST_STEMS = frozenset({"test", "tests", "conftest"})
# JS/TS style: ``foo.test.ts``, ``foo.spec.jsx``, ``foo.e2e-spec.ts``, ``foo.cy.ts``.
_TEST_MIDDLES = (".test", ".spec", ".e2e-spec", ".e2e", ".cy")


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _split_name(name: str) -> tuple[str, str]:
    """``a.test.ts`` -> (``a.test``, ``.ts``); a leading dot is part of the stem."""
    dot = name.rfind(".")
    return (name, "") if dot <= 0 else (name[:dot], name[dot:])


def _is_test_name(name: str) -> bool:
    """Test-file naming conventions across languages, from the name alone."""
    stem, _ = _split_name(name)
    lower = stem.lower()
    if lower in _TEST_STEMS or lower.startswith("test_") or lower.endswith(_TEST_STEM_SUFFIXES):
        return True
    if lower.endswith(_TEST_MIDDLES):
        return True
    # JUnit/xUnit/Spock/Swift style: FooTest, FooTests, FooTestCase, FooSpec, FooSuite,
    # FooIT (integration), TestFoo; case-sensitive so ``Contest`` and ``AUDIT`` stay code.
    for suffix in ("Test", "Tests", "TestCase", "Spec", "Suite", "IT"):
        head = stem[: -len(suffix)]
        if stem.endswith(suffix) and head and (head[-1].islower() or head[-1].isdigit()):
            return True
    return stem.startswith("Test") and len(stem) > 4 and stem[4].isupper()


def is_test_path(path: str) -> bool:
    """Whether a relative POSIX path is test code (so searches can leave tests out).

    A directory component such as ``tests/``, ``__tests__/``, ``spec/``, ``testdata/`` (this
    covers ``src/test/java``), or a test-style file name: ``test_*.py``, ``*_test.go``,
    ``*.spec.ts``, ``FooTest.java``, ``*_spec.rb``, ``conftest.py`` and the like.
    """
    parts = _parts(path)
    if not parts:
        return False
    if any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return True
    return _is_test_name(parts[-1])


_VENDOR_DIRS = frozenset(
    {
        "vendor",
        "vendors",
        "third_party",
        "third-party",
        "thirdparty",
        "3rdparty",
        "node_modules",
        "bower_components",
        "site-packages",
        "pods",
        "dist",
        "generated",
        "__generated__",
        "_generated",
        "autogen",
        "gen-src",
    }
)
_GENERATED_SUFFIXES = (
    ".min.js",
    ".min.mjs",
    ".min.css",
    ".map",
    "-min.js",
    ".bundle.js",
    "_pb2.py",
    "_pb2.pyi",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.gw.go",
    ".pb.cc",
    ".pb.h",
    "_pb.js",
    "_pb.d.ts",
    "_grpc_pb.js",
    ".pb.ts",
    ".g.dart",
    ".freezed.dart",
    ".designer.cs",
    ".g.cs",
    "_generated.go",
    ".gen.go",
)


def is_vendored_or_generated(path: str) -> bool:
    """Whether a relative POSIX path is third-party or machine-written code.

    Such files are indexed when present (unless ignored) but are worth ranking lower:
    ``vendor/``, ``third_party/``, ``node_modules/``, ``dist/``, ``generated/`` directories,
    minified bundles, protobuf and other codegen outputs, lock files.
    """
    parts = _parts(path)
    if not parts:
        return False
    if any(p.lower() in _VENDOR_DIRS for p in parts[:-1]):
        return True
    name = parts[-1]
    lower = name.lower()
    return (
        name in _LOCK_FILES
        or lower.endswith(_GENERATED_SUFFIXES)
        or ".generated." in lower
        or lower.startswith("zz_generated")
    )


_EXAMPLE_DIRS = frozenset(
    {"example", "examples", "_examples", "sample", "samples", "demo", "demos"}
)


def is_example_path(path: str) -> bool:
    """Whether a relative POSIX path lies in an examples/samples/demo directory."""
    return any(p.lower() in _EXAMPLE_DIRS for p in _parts(path)[:-1])


_LEGACY_DIRS = frozenset({"compat", "_compat", "legacy", "deprecated"})
# Files that only re-export a package's names or hold its metadata.
_REEXPORT_NAMES = frozenset({"__init__.py", "package-info.java"})


def is_legacy_path(path: str) -> bool:
    """Whether a relative POSIX path lies in a compat/, legacy/ or deprecated/ directory:
    an older copy of an API kept beside the current one."""
    return any(p.lower() in _LEGACY_DIRS for p in _parts(path)[:-1])


def is_reexport_path(path: str) -> bool:
    """Whether a file only gathers a package's names (``__init__.py``, ``package-info.java``)."""
    parts = _parts(path)
    return bool(parts) and parts[-1] in _REEXPORT_NAMES


def is_declaration_path(path: str) -> bool:
    """Whether a file is a TypeScript declaration stub (``.d.ts``)."""
    return path.endswith((".d.ts", ".d.mts", ".d.cts"))


def skipped_by_name(name: str) -> bool:
    """Generated files that are never worth indexing: lock files, minified code, maps."""
    return name in _LOCK_FILES or name.lower().endswith(_SKIP_SUFFIXES)
