"""The few git questions a prebuilt index asks of a checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT = 60.0


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run git in ``root``; None when git itself is missing or hangs."""
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_head(root: Path) -> str | None:
    done = _git(root, "rev-parse", "HEAD")
    return done.stdout.strip() if done is not None and done.returncode == 0 else None


def git_subdir(root: Path) -> str:
    """``root`` relative to its repository's top level ("" at the top)."""
    done = _git(root, "rev-parse", "--show-prefix")
    return done.stdout.strip().rstrip("/") if done is not None and done.returncode == 0 else ""


def git_is_dirty(root: Path) -> bool:
    """Uncommitted changes to tracked files under ``root``."""
    done = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return bool(done is not None and done.returncode == 0 and done.stdout.strip())


def git_changed_since(root: Path, commit: str) -> set[str] | None:
    """Paths under ``root`` (relative to it) that may differ from ``commit``: tracked files
    changed, added or deleted since, plus untracked files. None when git cannot tell."""
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", commit, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    if diff is None or untracked is None or diff.returncode or untracked.returncode:
        return None
    return {p for p in (diff.stdout + untracked.stdout).split("\0") if p}


def check_ancestor(root: Path, commit: str) -> str:
    """Empty when ``commit`` is an ancestor of (or is) HEAD in ``root``; else the reason."""
    head = git_head(root)
    if head is None:
        return f"{root} is not a git checkout, so commit {commit[:12]} cannot be checked"
    if head == commit:
        return ""
    done = _git(root, "merge-base", "--is-ancestor", commit, head)
    if done is None:
        return "git is not available to check the prebuilt commit"
    if done.returncode == 0:
        return ""
    if done.returncode == 1:
        return f"commit {commit[:12]} is not an ancestor of HEAD {head[:12]}"
    return f"commit {commit[:12]} is unknown in this checkout (fetch it, or rebuild the index)"
