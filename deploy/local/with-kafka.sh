#!/usr/bin/env bash
# Runs a command with a local Kafka broker available: starts one (deploy/local/kafka.sh) when none
# answers on KAFKA_PORT, and stops afterwards only the broker it started itself, also when the
# command fails or is interrupted. The command's exit code is passed through.
#
# Usage: deploy/local/with-kafka.sh COMMAND [ARG...]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KAFKA_PORT=${KAFKA_PORT:-9092}
[[ $# -gt 0 ]] || { echo "usage: with-kafka.sh COMMAND [ARG...]" >&2; exit 2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; }

started=0
if port_open; then
    echo "with-kafka: using the broker already listening on 127.0.0.1:$KAFKA_PORT"
else
    "$HERE/kafka.sh" start
    started=1
fi

cleanup() {
    if [[ $started == 1 ]]; then
        "$HERE/kafka.sh" stop || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

set +e
"$@"
rc=$?
set -e
exit $rc
