#!/usr/bin/env bash
# Soak the cluster under random fault schedules for a while and print one
# summary line per schedule. Needs root (network namespaces) with ip and nft.
#
#   scripts/soak.sh 1h            # any Go duration: 30m, 2h, ...
#   scripts/soak.sh 10m -seed 42  # extra flags go to the robustness test
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  echo "usage: $0 <duration> [extra go test flags for ./robustness]" >&2
  exit 2
fi
duration=$1
shift
if [ "$(id -u)" != 0 ]; then
  echo "soak.sh needs root: it builds network namespaces and nftables rules" >&2
  exit 2
fi

# go test needs a timeout above the soak itself (runs finish their schedule).
secs=$(go run ./robustness/cmd/duration "$duration")
timeout=$((secs + 1800))s
echo "soaking for $duration (go test timeout $timeout); one line per schedule:"
set +e
SEATD_REQUIRE_NETNS=1 go test -count=1 -run '^TestSoak$' -timeout "$timeout" ./robustness \
  -soak "$duration" -v "$@" 2>&1 | grep --line-buffered -E '^(SOAK |--- FAIL|FAIL|ok |PASS)|violations|VIOLATION|seed [0-9]+'
status=${PIPESTATUS[0]}
exit "$status"
