#!/usr/bin/env bash
# Installs what is missing, builds, and runs flowscope on this host (agent + hub + UI, embedded storage).
#   scripts/up.sh [flowscope up options...]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
scripts/setup.sh
exec bin/flowscope up "$@"
