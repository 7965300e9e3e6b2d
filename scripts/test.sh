#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (on the real kernel, as root).
#   scripts/test.sh [--strict-skips] [filter...]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
scripts/setup.sh --test
exec node dist/scripts/run-tests.js "$@"
