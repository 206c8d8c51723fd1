"""Config: camelCase parsing, fallbacks that name the bad value, round trips, editor defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codequest.config import Config
from codequest.errors import ConfigError

PACKAGE_JSON = Path(__file__).resolve().parents[1] / "vscode-extension" / "package.json"


def test_camel_case_keys_are_parsed():
    config, problems = Config.from_mapping(
        {
            "maxResults": 7,
            "cacheDir": "/tmp/idx",
            "maxFileBytes": 4096,
            "maxChunksPerFile": 2,
            "followSymlinks": True,
            "queryEncoder": "teacher-onnx",
            "exclude": ["vendor/", "*.gen.py"],
        }
    )
    assert problems == []
    assert config.max_results == 7
    assert config.cache_dir == "/tmp/idx"
    assert config.max_file_bytes == 4096
    assert config.max_chunks_per_file == 2
    assert config.follow_symlinks is True
    assert config.query_encoder == "teacher-onnx"
    assert config.exclude == ("vendor/", "*.gen.py")


def test_snake_case_keys_are_accepted_too():
    config, problems = Config.from_mapping({"max_results": 3, "batch_size": 8})
    assert problems == []
    assert (config.max_results, config.batch_size) == (3, 8)


def test_a_single_exclude_string_becomes_a_tuple():
    config, problems = Config.from_mapping({"exclude": "build/"})
    assert problems == []
    assert config.exclude == ("build/",)


@pytest.mark.parametrize(
    ("key", "value", "field", "shown"),
    [
        ("maxResults", 0, "max_results", "0"),
        ("maxResults", "ten", "max_results", "'ten'"),
        ("maxFileBytes", -3, "max_file_bytes", "-3"),
        ("maxChunksPerFile", True, "max_chunks_per_file", "True"),
        ("maxFiles", 2.5, "max_files", "2.5"),
        ("hybrid", "yes", "hybrid", "'yes'"),
        ("device", "tpu", "device", "'tpu'"),
        ("model", "   ", "model", "'   '"),
        ("exclude", [1, 2], "exclude", "[1, 2]"),
        ("cacheDir", 42, "cache_dir", "42"),
    ],
)
def test_invalid_values_fall_back_with_a_message_naming_the_value(key, value, field, shown):
    base = Config(max_results=11)
    config, problems = Config.from_mapping({key: value}, base=base)
    assert getattr(config, field) == getattr(base, field)
    assert len(problems) == 1
    assert shown in problems[0]
    assert key in problems[0]
    assert f"using default {getattr(base, field)!r}" in problems[0]


def test_one_bad_value_does_not_discard_the_good_ones():
    config, problems = Config.from_mapping({"maxResults": -1, "maxChunksPerFile": 5})
    assert config.max_chunks_per_file == 5
    assert config.max_results == Config().max_results
    assert len(problems) == 1


def test_unknown_keys_are_reported_and_client_only_keys_are_not():
    config, problems = Config.from_mapping(
        {"maxResultz": 5, "interpreter": ["python3"], "trace": {"server": "off"}}
    )
    assert config == Config()
    assert problems == ["unknown setting 'maxResultz' ignored"]


def test_none_values_keep_the_base_and_non_mappings_are_reported():
    base = Config(max_results=9)
    assert Config.from_mapping({"maxResults": None}, base=base) == (base, [])
    assert Config.from_mapping(None, base=base) == (base, [])
    config, problems = Config.from_mapping(["maxResults"], base=base)  # type: ignore[arg-type]
    assert config == base
    assert problems == ["settings must be an object, got list"]


def test_direct_construction_rejects_bad_values_with_the_value_in_the_message():
    with pytest.raises(ConfigError, match=r"maxResults must be an integer in \[1, 1000\], got 0"):
        Config(max_results=0)
    with pytest.raises(ConfigError, match="'gpu'"):
        Config(device="gpu")


def test_to_camel_dict_round_trips():
    original = Config(
        model="hashing",
        exclude=("a/", "b/"),
        max_results=5,
        cache_dir="~/idx",
        follow_symlinks=True,
        hybrid=False,
        max_chunks=1234,
    )
    camel = original.to_camel_dict()
    assert camel["maxResults"] == 5
    assert camel["exclude"] == ["a/", "b/"]
    assert "max_results" not in camel
    json.dumps(camel)  # plain JSON types only
    parsed, problems = Config.from_mapping(camel)
    assert problems == []
    assert parsed == original


def test_defaults_agree_with_the_vscode_extension():
    if not PACKAGE_JSON.is_file():
        pytest.skip("vscode-extension/package.json is not in this checkout")
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    configuration = manifest["contributes"]["configuration"]
    sections = configuration if isinstance(configuration, list) else [configuration]
    camel = Config().to_camel_dict()
    checked = 0
    for section in sections:
        for key, spec in section["properties"].items():
            name = key.removeprefix("codequest.")
            if "." in name or name == "interpreter":
                continue  # client-only settings (trace.server, interpreter)
            assert name in camel, f"package.json setting {key} is unknown to Config"
            assert spec.get("default") == camel[name], f"default of {key} differs"
            checked += 1
    assert checked >= 10
