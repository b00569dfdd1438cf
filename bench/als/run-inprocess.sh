#!/bin/sh
# Every variant of inprocess.mjs on each Node, interleaved, REPS processes each.
cd "$(dirname "$0")/../.."
REPS=${REPS:-4}
for b in node /tmp/loopguard-node22/node_modules/.bin/node "/tmp/loopguard-node22/node_modules/.bin/node --experimental-async-context-frame" /tmp/loopguard-node24/node_modules/.bin/node /tmp/loopguard-node26/node_modules/.bin/node; do
  i=0; while [ $i -lt $REPS ]; do for v in bare run enter; do $b bench/als/inprocess.mjs $v; done; i=$((i+1)); done
done
