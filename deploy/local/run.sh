#!/usr/bin/env bash
# `make run`: the whole thing on one machine. Starts a local Kafka broker (unless one already
# answers on KAFKA_PORT), creates the five topics (the state topic compacted), starts the ECS
# simulator and the worker in the background, then runs `ecs-provisioner samples` in the
# foreground: the example requests (the API reference's five and one the shipped guardrails policy
# allows) plus one invalid request, each shown live, then the batch summary and how to publish
# more from a second terminal. The worker keeps serving until Ctrl-C, which stops everything this
# script started (the broker only if it started it) and checks the ports are free. The worker's
# settings are written to DEMO_RUN_DIR/worker.env (its `--config`); when something does not come
# up, the failure names the command that checks them:
# `ecs-provisioner doctor --config DEMO_RUN_DIR/worker.env`.
#
# Usage: deploy/local/run.sh     (normally through `make run`, which sets up .venv first)
#
# Environment:
#   KAFKA_PORT   broker port (9092); an already running broker there is used and left running
#   SIM_PORT     ECS simulator port (8700)
#   OPS_PORT     worker's /healthz, /readyz, /metrics port (8080)
#   JOB_SECONDS  simulated job duration range MIN:MAX (3:10)
#   SAMPLES_ARGS extra arguments for `ecs-provisioner samples` (e.g. --no-watch)
#   DEMO_RUN_DIR where the simulator and worker logs go (deploy/local/.run/demo)
#
# Exit codes: 0 stopped by Ctrl-C (or the sample command ended normally); 1 a component failed
# to start, a port is taken, or the sample batch did not finish.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
HOST=127.0.0.1
export KAFKA_PORT=${KAFKA_PORT:-9092}
# The same default as kafka.sh: +10000, or -10000 where that would exceed 65535.
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((10#$KAFKA_PORT + (10#$KAFKA_PORT > 55535 ? -10000 : 10000)))}
export KAFKA_CONTROLLER_PORT
SIM_PORT=${SIM_PORT:-8700}
OPS_PORT=${OPS_PORT:-8080}
JOB_SECONDS=${JOB_SECONDS:-3:10}
SAMPLES_ARGS=${SAMPLES_ARGS:-}
RUN_DIR=${DEMO_RUN_DIR:-$HERE/.run/demo}
BIN=$REPO_ROOT/.venv/bin
export KAFKA_CHECK_PYTHON=${KAFKA_CHECK_PYTHON:-$BIN/python}

# Demo-only values: the simulator accepts exactly this AK/SK; the password is example 2's $ADMIN_PASS.
DEMO_AK=demo-ak
DEMO_SK=demo-sk
DEMO_PROJECT=0605767ea3000f5b2fe8c0051de0b9ba

say() { echo "run.sh: $*"; }

# A signal ignored when bash starts cannot be trapped, and every background job of a
# non-interactive shell (a CI step, `make run &`, a test runner started that way) inherits SIGINT
# ignored: Ctrl-C (SIGINT to the process group) would then neither run the clean-up below nor
# stop `samples`. Start over with SIGINT at its default, once, before anything is started.
if [[ $(trap -p INT) == "trap -- '' SIGINT" && -x $BIN/python ]]; then
    exec "$BIN/python" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "${BASH_SOURCE[0]}" "$@"
fi

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# One line saying what failed, the last lines of the log that tells why, and (once the worker's
# settings are written) the command that checks the deployment and says how to fix it.
fail() {
    echo "run.sh: $1" >&2
    if [[ -n ${2:-} && -s $2 ]]; then
        echo "--- last lines of $2:" >&2
        tail -n 20 "$2" >&2
    fi
    if [[ -s ${WORKER_ENV:-} ]]; then
        echo "run.sh: for a checklist with a fix for each problem, run:" >&2
        echo "  $BIN/ecs-provisioner doctor --config $WORKER_ENV" >&2
    fi
    exit 1
}

broker_started=0
simulator_pid=
worker_pid=
cleaned=0

# SIGTERM a child of this script, wait up to $2 seconds, then SIGKILL it.
stop_child() {
    local pid=$1 timeout=$2 name=$3 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name did not stop within ${timeout}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? port busy=()
    ((cleaned)) && return
    cleaned=1
    trap '' INT TERM # a second Ctrl-C must not cut the clean-up short
    echo
    say "stopping"
    stop_child "$worker_pid" 40 worker
    stop_child "$simulator_pid" 10 simulator
    local ports=("$SIM_PORT" "$OPS_PORT")
    if ((broker_started)); then
        "$HERE/kafka.sh" stop || true
        ports+=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")
    fi
    for port in "${ports[@]}"; do
        port_open "$port" && busy+=("$port")
    done
    if ((${#busy[@]})); then
        say "ports still in use after stopping: ${busy[*]}" >&2
        rc=1
    else
        say "stopped everything it started; ports ${ports[*]} are free"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP # Ctrl-C (or closing the terminal) stops: clean up, exit 0

[[ -x $BIN/ecs-provisioner ]] || fail "no virtualenv at $BIN: run \`make run\` (it creates .venv first)"
cd "$REPO_ROOT"
mkdir -p "$RUN_DIR"

for pair in "SIM_PORT:$SIM_PORT" "OPS_PORT:$OPS_PORT"; do
    port_open "${pair#*:}" && fail "port ${pair#*:} is in use by another process (set ${pair%%:*}=<free port>)"
done

# The worker's settings (demo values only), as the file `run` and `doctor` read with --config;
# topic and group names given in the environment are kept, so doctor checks the same ones.
export ECSP_KAFKA_BOOTSTRAP_SERVERS=$HOST:$KAFKA_PORT
WORKER_ENV=$RUN_DIR/worker.env
(
    umask 077
    {
        echo "ECSP_KAFKA_BOOTSTRAP_SERVERS=$ECSP_KAFKA_BOOTSTRAP_SERVERS"
        for name in ECSP_TOPIC_REQUESTS ECSP_TOPIC_RESULTS ECSP_TOPIC_FAILURES ECSP_TOPIC_PROGRESS \
            ECSP_TOPIC_STATE ECSP_GROUP_ID; do
            if [[ -n ${!name+set} ]]; then echo "$name=${!name}"; fi
        done
        echo "ECSP_ECS_ENDPOINT=http://$HOST:$SIM_PORT"
        echo "ECSP_ECS_AK=$DEMO_AK"
        echo "ECSP_ECS_SK=$DEMO_SK"
        echo "ECSP_ECS_PROJECT_ID=$DEMO_PROJECT"
        echo "ECSP_OPS_HOST=$HOST"
        echo "ECSP_OPS_PORT=$OPS_PORT"
    } >"$WORKER_ENV"
)

# Kafka: reuse a broker that answers, else start (and later stop) our own.
if port_open "$KAFKA_PORT"; then
    say "using the Kafka broker already listening on $HOST:$KAFKA_PORT (left running on exit)"
else
    broker_started=1
    "$HERE/kafka.sh" start || fail "the Kafka broker did not start" "$HERE/.run/kafka-$KAFKA_PORT/logs/kafka.out"
fi

# The five topics; requests and state get 3 partitions so per-key ordering across partitions
# and the key's partition that `status` reads show; the state topic is compacted.
"$BIN/python" - <<'EOF' || fail "cannot create the topics on $ECSP_KAFKA_BOOTSTRAP_SERVERS"
import asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from worker.ops.settings import Settings

async def main() -> None:
    s = Settings()
    wanted = {s.topic_requests: 3, s.topic_results: 1, s.topic_failures: 1, s.topic_progress: 1}
    configs = {s.topic_state: {"cleanup.policy": "compact", "segment.ms": "3600000"}}
    if s.topic_state:
        wanted[s.topic_state] = 3
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers, request_timeout_ms=15000)
    await asyncio.wait_for(admin.start(), 30)
    try:
        missing = set(wanted) - set(await asyncio.wait_for(admin.list_topics(), 30))
        if missing:
            await asyncio.wait_for(admin.create_topics(
                [NewTopic(t, num_partitions=wanted[t], replication_factor=1,
                          topic_configs=configs.get(t)) for t in missing]), 30)
            print("run.sh: created topics", ", ".join(sorted(missing)))
    finally:
        await admin.close()

asyncio.run(main())
EOF

# setsid: own session, so Ctrl-C reaches only this script, which then stops them in order.
say "starting the ECS simulator on http://$HOST:$SIM_PORT (jobs take ${JOB_SECONDS}s)"
# The AK/SK pair goes through the environment, not the command line (`ps` shows that); the
# admin routes (/_sim/stats, faults, paying orders) are for watching the demo.
ECSP_SIMULATOR_CREDENTIALS="$DEMO_AK:$DEMO_SK" \
    setsid "$BIN/ecs-provisioner" simulator --host "$HOST" --port "$SIM_PORT" --admin-routes \
    --job-seconds "$JOB_SECONDS" --seed 1 \
    </dev/null >"$RUN_DIR/simulator.log" 2>&1 &
simulator_pid=$!
for ((i = 0; i < 100; i++)); do
    port_open "$SIM_PORT" && break
    kill -0 "$simulator_pid" 2>/dev/null || fail "the simulator exited" "$RUN_DIR/simulator.log"
    sleep 0.1
done
port_open "$SIM_PORT" || fail "the simulator is not listening on $SIM_PORT after 10s" "$RUN_DIR/simulator.log"

say "starting the worker (health on http://$HOST:$OPS_PORT/readyz, log $RUN_DIR/worker.log)"
ECSP_SECRET_ADMIN_PASS='Demo-Passw0rd!' ECSP_LOG_FORMAT=json \
    ECSP_JOB_POLL_INITIAL_SECONDS=1 ECSP_JOB_POLL_MAX_SECONDS=2 \
    ECSP_COMMIT_INTERVAL_SECONDS=0.5 ECSP_SHUTDOWN_GRACE_SECONDS=5 \
    setsid "$BIN/ecs-provisioner" run --config "$WORKER_ENV" </dev/null >"$RUN_DIR/worker.log" 2>&1 &
worker_pid=$!
ready() {
    "$BIN/python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)' "http://$HOST:$OPS_PORT/readyz" 2>/dev/null
}
for ((i = 0; i < 120; i++)); do
    ready && break
    kill -0 "$worker_pid" 2>/dev/null || fail "the worker exited" "$RUN_DIR/worker.log"
    sleep 0.5
done
ready || fail "the worker is not ready after 60s (http://$HOST:$OPS_PORT/readyz)" "$RUN_DIR/worker.log"
say "worker ready; publishing the sample batch (Ctrl-C stops everything)"
echo

# shellcheck disable=SC2086 # SAMPLES_ARGS is a list of words
"$BIN/ecs-provisioner" samples $SAMPLES_ARGS ||
    fail "the sample batch did not finish" "$RUN_DIR/worker.log"
