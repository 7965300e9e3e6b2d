#!/usr/bin/env bash
# Installs what is missing and builds flowscope. Idempotent, and quiet when nothing is missing.
#
#   scripts/setup.sh          what the agent, hub and UI need to build and run
#   scripts/setup.sh --test   also what the test suite and benchmarks use
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { echo "setup: $*" >&2; }
die() { echo "setup: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0): packages are installed with apt-get and the agent loads BPF programs"

# Debian packages. Build and run: compiler, BPF toolchain, libbpf, iproute2 (tc, ip).
build_pkgs=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ pkg-config iproute2 util-linux)
# Tests and benchmarks: real traffic, kernel counters, peers and ground truth.
test_pkgs=(prometheus victoria-metrics iptables conntrack ethtool tcpdump netsniff-ng iperf3 wrk libbpf-tools iputils-ping procps psmisc
  podman runc busybox-static dnsmasq-base nfdump containerd apache2-utils openssl bpftrace nginx-light curl python3
  prometheus-alertmanager chromium)

pkgs=("${build_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists when they are missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
  fi
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/flowscope-apt.log 2>&1; then
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/flowscope-apt.log 2>&1 ||
      die "apt-get install failed (log: /tmp/flowscope-apt.log)"
  fi
  # Debian's prometheus and victoria-metrics packages start servers (:9090, :8428); tests start their own.
  if [[ " ${missing[*]} " == *" prometheus "* || " ${missing[*]} " == *" victoria-metrics "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus prometheus-node-exporter victoria-metrics >/dev/null 2>&1 || true
  fi
  # Likewise Alertmanager on :9093.
  if [[ " ${missing[*]} " == *" prometheus-alertmanager "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  fi
fi

# npm packages, when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.flowscope-lock ] || [ "$(cat node_modules/.flowscope-lock)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/tmp/flowscope-npm.log 2>&1 || { cat /tmp/flowscope-npm.log >&2; die "npm ci failed"; }
  echo "$lock_hash" > node_modules/.flowscope-lock
fi

# BPF objects, native addon, TypeScript: make prints a line for each thing it builds, nothing otherwise.
make -s all
