#!/usr/bin/env bash
# Grades one shard of a class: SHARD_INDEX (0-based, as a Kubernetes indexed
# Job's JOB_COMPLETION_INDEX or a CI matrix index) of SHARD_COUNT. The
# shard's gradebook goes to $OUT_ROOT/shard-$SHARD_INDEX; once every shard
# is done, `wsconform grade merge $OUT_ROOT/shard-* --out $OUT_ROOT/class`
# joins them.
set -euo pipefail
: "${SUBMISSIONS:?the folder of submissions}"
: "${OUT_ROOT:?where the shards write}"
index=${SHARD_INDEX:-${JOB_COMPLETION_INDEX:-0}}
count=${SHARD_COUNT:?how many shards}
start=${WSCONFORM_START:-"sh start.sh {port}"}
# shellcheck disable=SC2086
exec wsconform grade --submissions "$SUBMISSIONS" --start "$start" \
    --shard "$((index + 1))/$count" --out "$OUT_ROOT/shard-$index" --no-progress \
    ${WSCONFORM_ARGS:-}
