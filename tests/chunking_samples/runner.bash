#!/usr/bin/env bash
# Test runner helpers.

set -euo pipefail

BATS_TMPDIR="${TMPDIR:-/tmp}"
export BATS_TMPDIR

# Prints a message to stderr and exits.
die() {
  printf '%s\n' "$*" >&2
  exit 1
}

function bats_require_minimum_version {
  local required="$1"
  if [[ "$BATS_VERSION" < "$required" ]]; then
    die "needs bats $required"
  fi
}

function run_test() {
  local name="$1"
  shift
  "$@" >"$BATS_TMPDIR/$name.out" 2>&1
  local status=$?
  case "$status" in
    0) echo "ok $name" ;;
    *) echo "not ok $name" ;;
  esac
  return "$status"
}

if [[ -n "${BATS_DEBUG:-}" ]]; then
  trace() { echo "trace: $*" >&2; }
else
  trace() { :; }
fi

cleanup() (
  rm -rf "$BATS_TMPDIR"/*.out
)

trap cleanup EXIT

for file in "$@"; do
  run_test "$(basename "$file")" bash "$file"
done
