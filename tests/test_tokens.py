"""Identifier-aware tokenization shared by BM25, the hashing encoder and ranking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codequest.tokens import STOPWORDS, split_identifier, tokenize


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [
        ("read_json_file", ("read", "json", "file")),
        ("readJsonFile", ("read", "json", "file")),
        ("ReadJSONFile", ("read", "json", "file")),
        ("parseHTTPResponse_v2", ("parse", "http", "response", "v", "2")),
        ("HTTPServer", ("http", "server")),
        ("utf8Decoder", ("utf", "8", "decoder")),
        ("__init__", ("init",)),
        ("ALL_CAPS_NAME", ("all", "caps", "name")),
        ("x", ("x",)),
        ("_", ()),
    ],
)
def test_split_identifier(identifier: str, parts: tuple[str, ...]):
    assert split_identifier(identifier) == parts


def test_tokenize_keeps_the_whole_identifier_and_its_parts():
    assert tokenize("read_json_file(path)") == ["read_json_file", "read", "json", "file", "path"]
    assert tokenize("parseEmailAddress") == ["parseemailaddress", "parse", "email", "address"]


def test_tokenize_drops_stopwords_unless_asked():
    assert tokenize("How do I read the JSON file?") == ["read", "json", "file"]
    kept = tokenize("How do I read the JSON file?", keep_stopwords=True)
    assert kept == ["how", "do", "i", "read", "the", "json", "file"]
    assert "get" in STOPWORDS and tokenize("get_value") == ["get_value", "value"]


def test_tokenize_splits_on_punctuation_and_keeps_numbers():
    assert tokenize("a.b->c::d, x[42] + y0") == ["b", "c", "d", "x", "42", "y0", "y", "0"]


def test_very_long_identifiers_are_not_kept_whole():
    long_name = "a" * 70 + "_tail"
    assert tokenize(long_name) == ["a" * 70, "tail"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("größe_berechnen", ["größe_berechnen", "größe", "berechnen"]),
        ("berechneGröße", ["berechnegröße", "berechne", "größe"]),
        ("café", ["café"]),
        ("Überweisung", ["überweisung"]),
        ("读取配置文件", ["读取配置文件"]),
    ],
)
def test_non_ascii_identifiers_stay_whole_words(text: str, expected: list[str]):
    assert tokenize(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_tokenize_never_fails_and_yields_lowercase_non_empty_tokens(text: str):
    for token in tokenize(text):
        assert token and token == token.lower()
        assert not any(ch.isspace() for ch in token)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True))
def test_parts_of_ascii_identifiers_come_from_the_identifier(identifier: str):
    parts = split_identifier(identifier)
    assert "".join(parts) == identifier.replace("_", "").lower()
