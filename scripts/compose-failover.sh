#!/usr/bin/env bash
# The failover demo across containers: three seatd nodes from the FROM-scratch
# image on their own Docker network (docker-compose.yml).
#
#   scripts/compose-failover.sh
#
# 1. build a static seatd with the local Go, build the image, start the nodes
# 2. book seats 1-3 through a follower
# 3. docker kill the leader's container; time until a new leader answers; the
#    bookings are intact
# 4. cut the new leader off the network (docker network disconnect); the other
#    two elect a leader and keep booking; reconnect it and check every node
#    reads the same
# 5. docker-compose down (the nodes are stopped with SIGTERM; each must exit 0)
#
# Needs a Docker engine and docker-compose (or the compose plugin). The client
# ports are published on 127.0.0.1:17001-17003. Exits non-zero, saying what
# was expected, when any answer is wrong.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "$0")/.."
if command -v docker-compose >/dev/null; then
	compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
else
	die "needs docker-compose or the docker compose plugin"
fi
project=seatd-failover-$$
compose+=(-p "$project")
addrs=127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003
declare -A client=([n1]=127.0.0.1:17001 [n2]=127.0.0.1:17002 [n3]=127.0.0.1:17003)
seat=bin/seat
ok=0

cleanup() {
	if ((!ok)); then
		echo "--- node logs" >&2
		"${compose[@]}" logs --no-color --tail 30 >&2 || true
	fi
	"${compose[@]}" down -v --timeout 30 >/dev/null 2>&1 || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
	printf 'FAILED: %s\n' "$*" >&2
	exit 1
}
container() { "${compose[@]}" ps -a -q "$1"; } # -a: also a stopped one (compose v2 lists only running ones without it)

# leader_via ADDRS: the id the cluster names as leader, waiting up to 20 s.
leader_via() {
	local t0 answer
	t0=$(now_ms)
	while :; do
		if answer=$($seat --addr "$1" --timeout 1s leader 2>/dev/null) && [[ $answer == "LEADER "* ]]; then
			echo "${answer#LEADER }"
			return
		fi
		(($(now_ms) - t0 < 20000)) || fail "no leader within 20 s through $1"
		sleep 0.05
	done
}

step "1. build the binary and the image, start three containers"
go build -o bin/ ./cmd/seat
CGO_ENABLED=0 go build -trimpath -o build/seatd ./cmd/seatd
docker build -q -t seatd:dev . >/dev/null
"${compose[@]}" up -d >/dev/null 2>&1
leader=$(leader_via "$addrs")
echo "   leader: $leader"

step "2. book seats 1-3 through a follower"
follower=""
for id in n1 n2 n3; do [[ $id != "$leader" ]] && follower=$id && break; done
for s in 1 2 3; do
	got=$($seat --addr "${client[$follower]}" reserve "$s" "fan$s")
	[[ $got == SUCCESS ]] || fail "RESERVE $s through $follower answered $got"
done
echo "   booked 1-3 through $follower"

step "3. docker kill the leader ($leader)"
t0=$(now_ms)
docker kill "$(container "$leader")" >/dev/null
survivors=()
for id in n1 n2 n3; do [[ $id != "$leader" ]] && survivors+=("${client[$id]}"); done
surv=$(
	IFS=,
	echo "${survivors[*]}"
)
new=""
while [[ -z $new || $new == "$leader" ]]; do
	new=$(leader_via "$surv")
	(($(now_ms) - t0 < 20000)) || fail "the survivors still name $leader after 20 s"
done
printf '   new leader %s after %d ms\n' "$new" "$(($(now_ms) - t0))"
for s in 1 2 3; do
	got=$($seat --addr "$surv" status "$s")
	[[ $got == "BOOKED fan$s" ]] || fail "STATUS $s after the kill answered $got"
done
echo "   seats 1-3 still booked"
"${compose[@]}" start "$leader" >/dev/null 2>&1
echo "   restarted $leader's container on its data"

step "4. cut the new leader ($new) off the network"
network=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$(container "$new")" | awk '{print $1}')
t0=$(now_ms)
docker network disconnect "$network" "$(container "$new")"
rest=()
for id in n1 n2 n3; do [[ $id != "$new" ]] && rest+=("${client[$id]}"); done
restaddrs=$(
	IFS=,
	echo "${rest[*]}"
)
other=""
while [[ -z $other || $other == "$new" ]]; do
	other=$(leader_via "$restaddrs")
	(($(now_ms) - t0 < 20000)) || fail "the majority side still names $new after 20 s"
done
printf '   the majority elected %s after %d ms\n' "$other" "$(($(now_ms) - t0))"
got=$($seat --addr "$restaddrs" reserve 4 fan4)
[[ $got == SUCCESS ]] || fail "RESERVE 4 on the majority side answered $got"
docker network connect --alias "$new" "$network" "$(container "$new")"
echo "   reconnected $new"
t0=$(now_ms)
for id in n1 n2 n3; do
	until [[ $($seat --addr "${client[$id]}" --timeout 2s status 2>/dev/null) == "SEATS 100 FREE 96 BOOKED 4" ]]; do
		(($(now_ms) - t0 < 30000)) || fail "$id does not read 4 booked seats 30 s after the reconnect"
		sleep 0.1
	done
done
echo "   every node reads SEATS 100 FREE 96 BOOKED 4"

step "5. stop the containers (SIGTERM)"
"${compose[@]}" stop --timeout 30 >/dev/null 2>&1
for id in n1 n2 n3; do
	code=$(docker inspect -f '{{.State.ExitCode}}' "$(container "$id")")
	[[ $code == 0 ]] || fail "$id exited $code after SIGTERM"
done
echo "   every node exited 0"
ok=1
echo
echo "compose failover demo passed"
