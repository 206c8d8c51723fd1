"""One typed configuration object for the CLI, the engine and the language server.

The defaults here must agree with the ``contributes.configuration`` defaults in
``vscode-extension/package.json`` (a test checks this). Editors send settings in camelCase;
:meth:`Config.from_mapping` parses them, and an invalid value falls back to its default
with a message that names the offending value, never an exception.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from codequest.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True, kw_only=True)
class Config:
    # Document encoder (the teacher): a sentence-transformers name or a local folder.
    # "hashing" selects a tiny deterministic encoder (tests, or machines without torch).
    model: str = DEFAULT_MODEL
    # Query encoder: "auto" (shipped student for this teacher, else the teacher in ONNX),
    # "teacher-onnx", "teacher" (torch, slow), or a path to a student artifact folder.
    query_encoder: str = "auto"
    device: str = "auto"
    # Extra gitignore-style patterns to skip, on top of .gitignore and .codequestignore.
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    max_results: int = 20
    # Where the index lives; empty means "<workspace>/.codequest".
    cache_dir: str = ""
    # Chosen by 5-fold cross-validation on stdlib-bench (docs/ranking.md).
    max_chunks_per_file: int = 10
    max_files: int = 200_000
    max_chunks: int = 2_000_000
    batch_size: int = 32
    hybrid: bool = True
    follow_symlinks: bool = False
    # A prebuilt, read-only index to start from (see README "Prebuilt indexes").
    index_path: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            _validate(f.name, getattr(self, f.name))

    # -- parsing -------------------------------------------------------------------------
    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any] | None, *, base: Config | None = None
    ) -> tuple[Config, list[str]]:
        """Parse editor/CLI settings (camelCase or snake_case keys).

        Returns the config and a list of human-readable problems; every invalid or
        unknown setting is reported and replaced by the value from ``base``/defaults.
        """
        base = base or cls()
        problems: list[str] = []
        if raw is None:
            return base, problems
        if not isinstance(raw, Mapping):
            return base, [f"settings must be an object, got {type(raw).__name__}"]
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = _snake(str(key))
            if name not in known:
                if name not in _CLIENT_ONLY:
                    problems.append(f"unknown setting {key!r} ignored")
                continue
            if value is None:
                continue
            try:
                coerced = _coerce(name, value)
                _validate(name, coerced)
            except ConfigError as err:
                problems.append(f"{err}; using default {getattr(base, name)!r}")
                continue
            values[name] = coerced
        return dataclasses.replace(base, **values), problems

    def to_camel_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[_camel(f.name)] = list(value) if isinstance(value, tuple) else value
        return out


# Settings the VS Code client owns; the server accepts and ignores them.
_CLIENT_ONLY = frozenset({"interpreter", "trace", "server"})

_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "max_file_bytes": (1, 1 << 34),
    "max_results": (1, 1000),
    "max_chunks_per_file": (1, 1000),
    "max_files": (1, 1 << 31),
    "max_chunks": (1, 1 << 31),
    "batch_size": (1, 4096),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{_camel(name)} must be a list of strings, got {value!r:.80}")
    return tuple(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{_camel(name)} must be true or false, got {value!r:.80}")
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{_camel(name)} must be an integer, got {value!r:.80}")
    return value


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{_camel(name)} must be a string, got {value!r:.80}")
    return value


# One parser per field type, keyed by the resolved annotation (not its spelling).
_PARSERS: dict[Any, Callable[[str, Any], Any]] = {
    tuple[str, ...]: _strings,
    bool: _bool,
    int: _int,
    str: _str,
}
_FIELD_PARSERS = {name: _PARSERS[hint] for name, hint in get_type_hints(Config).items()}


def _coerce(name: str, value: Any) -> Any:
    return _FIELD_PARSERS[name](name, value)


def _validate(name: str, value: Any) -> None:
    if name in _INT_BOUNDS:
        low, high = _INT_BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"{_camel(name)} must be an integer in [{low}, {high}], got {value!r}"
            )
    elif name == "device":
        if value not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {value!r}")
    elif name == "model":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"model must be a non-empty string, got {value!r}")
    elif name == "query_encoder":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"queryEncoder must be a non-empty string, got {value!r}")
    elif name == "exclude" and (
        not isinstance(value, tuple) or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f"exclude must be a list of strings, got {value!r}")
