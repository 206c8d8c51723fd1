"""The VS Code extension's settings and the Python ``Config`` must agree.

``vscode-extension/package.json`` (``contributes.configuration``) is the single source of
truth for setting defaults: the extension sends them as camelCase ``initializationOptions``
and through ``workspace/didChangeConfiguration``, and ``Config.from_mapping`` parses them.
These tests fail when one side gains, loses or changes a setting without the other.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from codequest.config import DEVICES, Config, _camel

PACKAGE_JSON = Path(__file__).resolve().parents[1] / "vscode-extension" / "package.json"

# Settings only the VS Code client reads; the server accepts and ignores them.
CLIENT_ONLY = {
    "interpreter": "which Python runs the server; the client needs it before the server exists",
    "trace.server": "LSP message tracing, handled by vscode-languageclient",
}

# Config fields deliberately not exposed as VS Code settings, each with its reason.
NOT_EXPOSED = {
    "batchSize": "indexer throughput tuning (embedding batch size), not an editor preference",
}

# The executeCommand ids the server registers; palette commands must use other ids, or the
# language client's command registration collides with the extension's.
SERVER_COMMANDS = {"codequest.reindex", "codequest.status"}


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def settings(package: dict[str, Any]) -> dict[str, dict[str, Any]]:
    properties = package["contributes"]["configuration"]["properties"]
    assert all(key.startswith("codequest.") for key in properties)
    return {key.removeprefix("codequest."): spec for key, spec in properties.items()}


@pytest.fixture(scope="module")
def server_settings(settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: spec for key, spec in settings.items() if key not in CLIENT_ONLY}


def test_every_server_setting_is_a_config_field_with_the_same_default(
    server_settings: dict[str, dict[str, Any]],
) -> None:
    defaults = Config().to_camel_dict()
    unknown = sorted(set(server_settings) - set(defaults))
    assert not unknown, f"package.json settings with no Config field: {unknown}"
    mismatched = {
        key: (spec["default"], defaults[key])
        for key, spec in server_settings.items()
        if spec["default"] != defaults[key] or type(spec["default"]) is not type(defaults[key])
    }
    assert not mismatched, f"package.json default != Config default: {mismatched}"


def test_every_user_facing_config_field_has_a_setting(
    server_settings: dict[str, dict[str, Any]],
) -> None:
    camel = {_camel(f.name) for f in fields(Config)}
    missing = sorted(camel - set(server_settings) - set(NOT_EXPOSED))
    assert not missing, f"Config fields without a package.json setting: {missing}"
    stale = sorted(set(NOT_EXPOSED) - camel)
    assert not stale, f"NOT_EXPOSED names fields Config no longer has: {stale}"
    exposed_anyway = sorted(set(NOT_EXPOSED) & set(server_settings))
    assert not exposed_anyway, f"listed as not exposed but in package.json: {exposed_anyway}"


def test_client_only_settings_exist_and_the_server_ignores_them(
    settings: dict[str, dict[str, Any]],
) -> None:
    assert set(CLIENT_ONLY) <= set(settings)
    assert settings["interpreter"]["type"] == "array"
    assert settings["interpreter"]["default"] == []
    # What workspace/didChangeConfiguration sends: the whole section, nested as VS Code does.
    section: dict[str, Any] = {}
    for key, spec in settings.items():
        *parents, leaf = key.split(".")
        node = section
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = spec["default"]
    config, problems = Config.from_mapping(section)
    assert problems == []
    assert config == Config()


def test_setting_types_and_enums_match_config(settings: dict[str, dict[str, Any]]) -> None:
    assert settings["device"]["enum"] == list(DEVICES)
    json_types = {bool: "boolean", int: "integer", str: "string", list: "array"}
    defaults = Config().to_camel_dict()
    for key, spec in settings.items():
        if key in defaults:
            assert spec["type"] == json_types[type(defaults[key])], key


def test_non_default_settings_parse() -> None:
    config, problems = Config.from_mapping(
        {"model": "hashing", "maxResults": 5, "exclude": ["dist/**"], "hybrid": False}
    )
    assert problems == []
    assert (config.model, config.max_results, config.exclude, config.hybrid) == (
        "hashing",
        5,
        ("dist/**",),
        False,
    )


def test_palette_commands_differ_from_server_commands(package: dict[str, Any]) -> None:
    palette = {command["command"] for command in package["contributes"]["commands"]}
    assert {
        "codequest.search",
        "codequest.findSimilar",
        "codequest.reindexWorkspace",
        "codequest.showStatus",
    } <= palette
    assert not palette & SERVER_COMMANDS
    bound = {binding["command"] for binding in package["contributes"].get("keybindings", [])}
    assert bound <= palette
