#!/bin/sh
# An instant coding agent for the iteration benchmark, the same for agentloop (agent=command)
# and for the peer loop (installed on PATH as `claude`). It does what the scripted agent does:
# take the first open `- [ ]` task of the plan, append it to tasks/task-<line>.txt, tick it
# `[x]`, commit everything, and answer (`<promise>COMPLETE</promise>` when none is left).
#
# Plan: $LOOP_PLAN_PATH (agentloop sets it), else $BENCH_PLAN. Answer format:
# $BENCH_ANSWER=stream-json (a Claude Code `result` line) or text. Each call appends
# "<start_ns> <end_ns>" of its own work to $BENCH_TIMES_DIR/<run id or "peer">.times, so both
# loops are charged exactly the same agent time.
t0=$(date +%s%N)
[ -t 0 ] || cat >/dev/null
plan=${LOOP_PLAN_PATH:-$BENCH_PLAN}
n=$(grep -n -m1 '^- \[ \] ' "$plan" | cut -d: -f1)
answer="<promise>COMPLETE</promise>"
if [ -n "$n" ]; then
    task=$(sed -n "${n}p" "$plan" | sed 's/^- \[ \] //')
    mkdir -p tasks
    echo "$task" >>"tasks/task-$n.txt"
    sed -i "${n}s/^- \[ \] /- [x] /" "$plan"
    git add -A
    git -c commit.gpgsign=false commit -q --no-verify -m "$task"
    left=$(grep -c '^- \[ \] ' "$plan")
    [ "$left" -gt 0 ] && answer="Completed $task. $left tasks remain."
fi
if [ "${BENCH_ANSWER:-text}" = stream-json ]; then
    printf '{"type":"result","subtype":"success","is_error":false,"result":"%s",' "$answer"
    printf '"usage":{"input_tokens":1,"output_tokens":1}}\n'
else
    printf '%s\n' "$answer"
fi
t1=$(date +%s%N)
if [ -n "$BENCH_TIMES_DIR" ]; then
    echo "$t0 $t1" >>"$BENCH_TIMES_DIR/${LOOP_RUN_ID:-peer}.times"
fi
