#!/usr/bin/env bash
# Captures a three-node data directory written by the pre-events build.
set -euo pipefail
B=/tmp/old; D=/tmp/fix/data; rm -rf $D; mkdir -p $D
peers=n1=127.0.0.1:29301,n2=127.0.0.1:29302,n3=127.0.0.1:29303
for i in 1 2 3; do
  $B/seatd --id n$i --listen 127.0.0.1:2920$i --raft 127.0.0.1:2930$i --data $D/n$i --peers $peers --seats 20 \
    --snapshot-threshold 16 --snapshot-interval 200ms --trailing-logs 4 >$D/n$i.log 2>&1 &
done
A=127.0.0.1:29201,127.0.0.1:29202,127.0.0.1:29203
until $B/seat --addr $A LEADER >/dev/null 2>&1; do sleep 0.2; done
out=/tmp/fix/answers.txt; : > $out
send() { local r; r=$($B/seat --addr $A "$@" || true); echo "$* => $r" >> $out; }
# phase 1: before the snapshot
for s in $(seq 1 12); do send RESERVE $s holder$s id=p1-r$s; done
send RESERVE 13 id=p1-anon13
send RESERVE 3 bob id=p1-bob3
send CANCEL 2 holder2 id=p1-c2
send CANCEL 4 mallory id=p1-c4
send CANCEL 14 id=p1-c14
send RESERVE 21 x id=p1-bad21
send RESERVE 5 holder5 id=p1-again5
for s in $(seq 15 20); do send RESERVE $s early$s id=p1-e$s; done
for s in 15 16 17; do send CANCEL $s early$s id=p1-ce$s; done
for i in $(seq 1 8); do send RESERVE 2 h2-$i id=p1-race$i; done
# wait until every node has a snapshot
for i in 1 2 3; do until ls $D/n$i/snapshots/*/state.bin >/dev/null 2>&1; do sleep 0.2; done; done
sleep 1
# phase 2: after the snapshot (replayed from the log)
send CANCEL 1 holder1 id=p2-c1
send RESERVE 1 carol id=p2-r1
send RESERVE 15 dave id=p2-r15
send CANCEL 13 id=p2-c13
send RESERVE 16 id=p2-anon16
send RESERVE 6 eve id=p2-eve6
send CANCEL 7 holder7 id=p2-c7
send RESERVE 3 bob id=p1-bob3
# final state as every node sees it
for i in 1 2 3; do
  for s in $(seq 1 20); do echo "n$i STATUS $s => $($B/seat --addr 127.0.0.1:2920$i STATUS $s || true)"; done
  echo "n$i STATUS => $($B/seat --addr 127.0.0.1:2920$i STATUS || true)"
done > /tmp/fix/final.txt
for i in 1 2 3; do kill -TERM %$i; done
wait
echo done
