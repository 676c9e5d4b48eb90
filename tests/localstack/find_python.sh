#!/usr/bin/env bash
# Print the path of a Python 3.13 for LocalStack's environment and for the functions it runs
# (their runtime is python3.13; LocalStack 2026.3 itself needs 3.12 or later). Tries the
# project's own Python first, then python3.13 on the PATH, then pyenv's. Fails with one line.
set -u
candidates=("${1:-python3}" python3.13)
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin; do candidates+=("$dir/python3"); done
for python in "${candidates[@]}"; do
  path=$(command -v "$python" 2>/dev/null) || continue
  if "$path" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "refarch: the LocalStack deploy tests need Python 3.13 with venv (the Lambda functions' runtime; tried ${candidates[*]}): install it, e.g. with pyenv install 3.13" >&2
exit 1
