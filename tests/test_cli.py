"""The command line, in process (``main([...])`` with capsys) and once as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codequest.cli import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, main
from codequest.errors import ConfigError

HASHING = ["--model", "hashing"]
RESULT_KEYS = {"path", "start_line", "end_line", "line", "symbol", "kind", "language", "score"}
INDEX_KEYS = {
    "files",
    "chunks",
    "embedded",
    "reused",
    "removed_files",
    "skipped",
    "seconds",
    "rebuilt",
    "rebuild_reason",
    "cancelled",
    "limit_hit",
    "timings",
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == EXIT_USER_ERROR
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("codequest: error: "), err
    for needle in needles:
        assert needle in err


def test_index_json_report(capsys: pytest.CaptureFixture[str], project: Path):
    code, out, err = run_cli(capsys, "index", str(project), "--json", *HASHING)
    assert code == 0
    report = json.loads(out)
    assert set(report) == INDEX_KEYS
    assert report["files"] == 6 and report["chunks"] == report["embedded"] > 0
    assert report["skipped"] == {"unsupported": 1}
    again = json.loads(run_cli(capsys, "index", str(project), "--json", *HASHING)[1])
    assert again["embedded"] == 0 and again["chunks"] == report["chunks"]


def test_index_human_summary(capsys: pytest.CaptureFixture[str], project: Path):
    code, out, err = run_cli(capsys, "index", str(project), *HASHING)
    assert code == 0
    assert re.search(r"files 6 +chunks \d+ +embedded \d+ +reused 0", out)
    assert "skipped: unsupported 1" in out
    assert err == ""


def test_search_json_schema(capsys: pytest.CaptureFixture[str], project: Path):
    run_cli(capsys, "index", str(project), "--json", *HASHING)
    code, out, err = run_cli(
        capsys, "search", "read_json_file", "--path", str(project), "--json", "-k", "3", *HASHING
    )
    assert code == 0
    results = json.loads(out)
    assert 1 <= len(results) <= 3
    for r in results:
        assert set(r) == RESULT_KEYS
        assert isinstance(r["path"], str) and isinstance(r["score"], float)
        assert isinstance(r["start_line"], int) and r["start_line"] <= r["end_line"]
        assert r["start_line"] <= r["line"] <= r["end_line"]
    assert (results[0]["path"], results[0]["symbol"]) == ("app/io_utils.py", "read_json_file")
    # The whole small file is one chunk: from its first line.
    assert results[0]["start_line"] == 1 and results[0]["language"] == "python"


def test_search_human_output(capsys: pytest.CaptureFixture[str], project: Path):
    run_cli(capsys, "index", str(project), *HASHING)
    code, out, err = run_cli(
        capsys, "search", "parseEmailAddress", "--path", str(project), *HASHING
    )
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("web/email.js:1 parseEmailAddress")
    assert "function parseEmailAddress(text) {" in out  # the preview line


def test_search_explain_and_filters(capsys: pytest.CaptureFixture[str], project: Path):
    run_cli(capsys, "index", str(project), *HASHING)
    code, out, _ = run_cli(
        capsys,
        "search",
        "read json",
        "--path",
        str(project),
        "--json",
        "--explain",
        "--lang",
        "go",
        "--exclude-tests",
        *HASHING,
    )
    assert code == 0
    results = json.loads(out)
    assert results and {r["language"] for r in results} == {"go"}
    code, out, _ = run_cli(
        capsys, "search", "read json", "--path", str(project), "--json", "--explain", *HASHING
    )
    assert "explain" in json.loads(out)[0]


def test_search_indexes_first_when_there_is_no_index(
    capsys: pytest.CaptureFixture[str], project: Path
):
    code, out, err = run_cli(capsys, "search", "ComputeSha256", "--path", str(project), *HASHING)
    assert code == 0
    assert "no index yet" in err
    assert out.startswith("cmd/hash.go:8 ComputeSha256")  # the func, below the imports


def test_search_with_no_results_says_so_on_stderr(
    capsys: pytest.CaptureFixture[str], make_project: Callable[..., Path]
):
    root = make_project({"a.py": "def alpha():\n    return 1\n"})
    run_cli(capsys, "index", str(root), *HASHING)
    code, out, err = run_cli(
        capsys, "search", "alpha", "--path", str(root), "--glob", "*.go", *HASHING
    )
    assert code == 0 and out == "" and "no results" in err


def test_status(capsys: pytest.CaptureFixture[str], project: Path):
    code, out, _ = run_cli(capsys, "status", "--path", str(project), "--json", *HASHING)
    assert code == 0
    before = json.loads(out)
    assert before["indexed"] is False and before["files"] == 0
    run_cli(capsys, "index", str(project), *HASHING)
    status = json.loads(run_cli(capsys, "status", "--path", str(project), "--json", *HASHING)[1])
    assert status["indexed"] is True
    assert status["files"] == 6 and status["chunks"] > 0
    assert status["model"] == "hashing-256-0"
    assert status["root"] == str(project.resolve())
    code, out, _ = run_cli(capsys, "status", "--path", str(project), *HASHING)
    assert code == 0 and "files: 6" in out and "model: hashing-256-0" in out


def test_limit_warning(capsys: pytest.CaptureFixture[str], project: Path):
    code, out, err = run_cli(capsys, "index", str(project), "--max-files", "2", *HASHING)
    assert code == 0
    assert "warning: file limit of 2 reached" in err
    code, out, err = run_cli(capsys, "index", str(project), "--max-chunks", "2", "--json", *HASHING)
    assert code == 0
    assert "chunk limit of 2 reached" in json.loads(out)["limit_hit"]
    assert "warning: chunk limit of 2 reached" in err  # JSON on stdout stays clean


def test_corrupt_index_is_noted_and_rebuilt(capsys: pytest.CaptureFixture[str], project: Path):
    run_cli(capsys, "index", str(project), *HASHING)
    (project / ".codequest" / "meta.msgpack").write_bytes(b"garbage")
    code, out, err = run_cli(capsys, "index", str(project), *HASHING)
    assert code == 0
    assert "note: " in err and "not a CodeQuest index file" in err and "rebuilding" in err
    assert "Traceback" not in err
    code, out, err = run_cli(capsys, "search", "Slugify", "--path", str(project), *HASHING)
    assert code == 0 and out.startswith("src/Slugify.java:1 Slugify")


# -- errors -------------------------------------------------------------------------------


def test_missing_folder_is_a_user_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    missing = str(tmp_path / "nope")
    for argv in (
        ["index", missing],
        ["search", "x", "--path", missing],
        ["status", "--path", missing],
    ):
        code, out, err = run_cli(capsys, *argv, *HASHING)
        assert_user_error(code, err, "nope", "is not a folder")
        assert out == ""


def test_a_file_is_not_a_folder(capsys: pytest.CaptureFixture[str], project: Path):
    code, _, err = run_cli(capsys, "index", str(project / "web" / "email.js"), *HASHING)
    assert_user_error(code, err, "email.js")


@pytest.mark.parametrize("value", ["0", "-5"])
def test_invalid_max_file_bytes(capsys: pytest.CaptureFixture[str], project: Path, value: str):
    code, out, err = run_cli(capsys, "index", str(project), "--max-file-bytes", value, *HASHING)
    assert_user_error(code, err, "maxFileBytes", value)
    assert not (project / ".codequest" / "meta.msgpack").exists()


def test_non_numeric_max_file_bytes_is_an_argparse_error(
    capsys: pytest.CaptureFixture[str], project: Path
):
    with pytest.raises(SystemExit) as info:
        main(["index", str(project), "--max-file-bytes", "lots"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid int value: 'lots'" in err and "Traceback" not in err


def test_bad_glob(capsys: pytest.CaptureFixture[str], project: Path):
    run_cli(capsys, "index", str(project), *HASHING)
    code, out, err = run_cli(
        capsys, "search", "x", "--path", str(project), "--glob", "**/[z-a].py", *HASHING
    )
    assert_user_error(code, err, "invalid glob", "[z-a]")
    assert out == ""


def test_unknown_model_is_a_user_error(capsys: pytest.CaptureFixture[str], project: Path):
    code, _, err = run_cli(capsys, "index", str(project), "--model", "no/such-model-anywhere")
    assert_user_error(code, err, "no/such-model-anywhere")


def test_unwritable_cache_dir_is_a_user_error(capsys: pytest.CaptureFixture[str], project: Path):
    blocker = project / "blocker"
    blocker.write_text("a file where the cache folder should go")
    code, _, err = run_cli(
        capsys, "index", str(project), "--cache-dir", str(blocker / "idx"), *HASHING
    )
    assert_user_error(code, err, "blocker")


# -- as a program ---------------------------------------------------------------------------


def test_python_dash_m_codequest(project: Path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    help_run = subprocess.run(
        [sys.executable, "-m", "codequest", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert help_run.returncode == 0
    for command in ("index", "search", "status", "serve"):
        assert command in help_run.stdout
    search = subprocess.run(
        [
            sys.executable,
            "-m",
            "codequest",
            "search",
            "http_get_with_timeout",
            "--path",
            str(project),
            "--json",
            *HASHING,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert search.returncode == 0, search.stderr
    results = json.loads(search.stdout)
    assert results[0]["symbol"] == "http_get_with_timeout"
    bad = subprocess.run(
        [sys.executable, "-m", "codequest", "index", str(project / "missing"), *HASHING],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == EXIT_USER_ERROR
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"codequest: error: {str(project / 'missing')!r} is not a folder"
    ]


def test_search_that_indexes_first_warns_about_limits(
    capsys: pytest.CaptureFixture[str], project: Path
):
    code, out, err = run_cli(
        capsys, "search", "x", "--path", str(project), "--max-files", "1", "--json", *HASHING
    )
    assert code == 0
    assert "warning: file limit of 1 reached" in err
    json.loads(out)


def test_index_says_when_it_waits_for_another_indexer(
    capsys: pytest.CaptureFixture[str], project: Path
):
    import threading

    from codequest.index.persist import writer_lock

    result: list[int] = []
    with writer_lock(project / ".codequest"):
        worker = threading.Thread(
            target=lambda: result.append(main(["index", str(project), *HASHING]))
        )
        worker.start()
        deadline = time.monotonic() + 30
        seen = ""
        while "waiting for another CodeQuest process" not in seen:
            assert time.monotonic() < deadline, "no waiting note"
            time.sleep(0.05)
            seen += capsys.readouterr().err
        assert worker.is_alive()  # still blocked on the lock
    worker.join(60)
    assert result == [0]
    assert "files 6" in capsys.readouterr().out


# -- errors and what reaches the terminal ----------------------------------------------------
# A status run whose workspace breaks (a bug) and whose libraries are noisy, in a fresh
# interpreter, the way a user runs it. PYTHONWARNINGS is left as it is: the CLI decides.
BROKEN_STATUS = """
import logging, sys, warnings
import codequest.workspace

def status(self):
    warnings.warn("a library's deprecation notice", FutureWarning)
    logging.getLogger("transformers").warning("a library's log record")
    raise RuntimeError("the status table is\\ninconsistent")

codequest.workspace.Workspace.status = status
from codequest.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def run_broken_status(project: Path, *args: str, debug_env: str = "") -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "CODEQUEST_DEBUG")}
    if debug_env:
        env["CODEQUEST_DEBUG"] = debug_env
    done = subprocess.run(
        [sys.executable, "-c", BROKEN_STATUS, *args, "--path", str(project), *HASHING],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.stdout == ""
    return done.returncode, done.stderr.strip().splitlines()


def test_an_internal_error_is_one_line_with_exit_status_1(project: Path):
    code, lines = run_broken_status(project, "status")
    assert code == EXIT_INTERNAL_ERROR == 1
    assert lines == [
        "codequest: internal error: RuntimeError: the status table is inconsistent; "
        "run with --debug (or CODEQUEST_DEBUG=1) for the traceback"
    ]  # and neither the library's warning nor its log record


@pytest.mark.parametrize(
    ("args", "debug_env"),
    [(("status", "--debug"), ""), (("--debug", "status"), ""), (("status",), "1")],
)
def test_debug_prints_the_traceback_and_third_party_warnings(
    project: Path, args: tuple[str, ...], debug_env: str
):
    code, lines = run_broken_status(project, *args, debug_env=debug_env)
    assert code == EXIT_INTERNAL_ERROR
    text = "\n".join(lines)
    assert "Traceback (most recent call last)" in text and "in status" in text
    assert "FutureWarning: a library's deprecation notice" in text
    assert "transformers: WARNING: a library's log record" in text
    assert lines[-1] == "codequest: internal error: RuntimeError: the status table is inconsistent"


def test_a_user_error_is_one_line_with_exit_status_2(project: Path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "codequest",
            "search",
            "x",
            "--path",
            str(project),
            "--max-files",
            "-1",
            *HASHING,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == EXIT_USER_ERROR
    assert done.stderr.strip().splitlines() == [
        "codequest: error: maxFiles must be an integer in [1, 2147483648], got -1; "
        "using default 200000"
    ]


def test_exit_status_maps_user_errors_to_2_and_bugs_to_1():
    from codequest.cli import exit_status
    from codequest.errors import EncoderError, InvalidQuery, PrebuiltError, UserError

    for err in (
        UserError("x"),
        EncoderError("x"),
        PrebuiltError("x"),
        InvalidQuery("x"),
        PermissionError(13, "denied"),
        ConfigError("x"),
    ):
        assert exit_status(err) == EXIT_USER_ERROR, err
    for bug in (RuntimeError("x"), KeyError("x"), AttributeError("x"), AssertionError()):
        assert exit_status(bug) == EXIT_INTERNAL_ERROR, bug


def test_search_prints_the_line_of_the_definition_a_result_is_named_after(
    capsys: pytest.CaptureFixture[str], make_project: Callable[..., Path]
):
    funcs = "".join(
        f"def {name}(value):\n    return value.{name}()\n\n\n"
        for name in ("start_engine", "stop_engine", "restart_engine")
    )
    root = make_project({"motor.py": funcs})
    code, out, _ = run_cli(capsys, "search", "stop_engine", "--path", str(root), *HASHING)
    assert code == 0
    first, preview = out.splitlines()[:2]
    assert first.startswith("motor.py:5 stop_engine  [function, ")
    assert preview == "    def stop_engine(value):"
