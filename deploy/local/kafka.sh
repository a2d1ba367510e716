#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for tests and local
# runs, built from the Maven Central jars listed in deploy/local/pom.xml: no Docker, no tarball.
#
# Usage: kafka.sh fetch|start|stop|status|reset
#   fetch   resolve the jars into deploy/local/.cache/kafka-<version>/libs (once; later runs reuse
#           the cache without Maven or network) and print where they are
#   start   fetch if needed, format KRaft storage if not yet formatted, start the broker on
#           127.0.0.1 in the background and return once a real client reads cluster metadata;
#           harmless when this broker is already running
#   stop    SIGTERM the broker by its pid file (SIGKILL after KAFKA_STOP_TIMEOUT s), wait until it
#           has exited and its ports are free; harmless when it is not running
#   status  print pid, ports and resident memory and exit 0 when running; "not running", exit 1
#   reset   stop, then delete the broker's data and logs (a clean slate for the next start)
#
# Environment:
#   KAFKA_PORT             client (PLAINTEXT) port, default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port, default KAFKA_PORT+10000 (19092 for 9092), or
#                          KAFKA_PORT-10000 when that would exceed 65535
#   KAFKA_SASL_SSL_PORT    also serve a SASL_SSL listener here (default: none). Users are created
#                          with SCRAM-SHA-512 credentials when the storage is formatted; the TLS
#                          certificate comes from a throwaway CA made with openssl, all under
#                          KAFKA_RUN_DIR/tls (clients trust KAFKA_RUN_DIR/tls/ca.pem)
#   KAFKA_SASL_USER        SCRAM user created at format time, default "ecsp"
#   KAFKA_SASL_PASSWORD    its password, default: generated, kept in KAFKA_RUN_DIR/tls/sasl-password
#   KAFKA_HEAP             JVM heap options, default "-Xms512m -Xmx768m"
#   KAFKA_RUN_DIR          state (data, logs, pid file, server.properties),
#                          default deploy/local/.run/kafka-<KAFKA_PORT>
#   KAFKA_READY_TIMEOUT    seconds `start` waits for the broker, default 90
#   KAFKA_STOP_TIMEOUT     seconds `stop` waits after SIGTERM before SIGKILL, default 30
#   KAFKA_CHECK_PYTHON     a Python with aiokafka for the readiness check (default: the repo's
#                          .venv/bin/python when it has aiokafka); without one the check uses the
#                          Kafka jars' Java admin client (KafkaReady.java, needs a JDK)
#   JAVA_HOME              Java 17+ to use instead of `java` on PATH
#
# Exit codes: 0 success; 1 failure, or `status` not running; 2 usage;
#             3 Java (17+) or Maven missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
HOST=127.0.0.1
KAFKA_PORT=${KAFKA_PORT:-9092}
[[ $KAFKA_PORT =~ ^[0-9]{1,5}$ ]] || {
    echo "kafka.sh: KAFKA_PORT must be a TCP port number, got '$KAFKA_PORT'" >&2
    exit 1
}
default_controller_port() {
    local port=$((10#$1))
    if ((port + 10000 <= 65535)); then echo $((port + 10000)); else echo $((port - 10000)); fi
}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$(default_controller_port "$KAFKA_PORT")}
KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-}
KAFKA_SASL_USER=${KAFKA_SASL_USER:-ecsp}
KAFKA_HEAP=${KAFKA_HEAP:--Xms512m -Xmx768m}
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")
CACHE_DIR=$HERE/.cache/kafka-$KAFKA_VERSION
LIBS=$CACHE_DIR/libs
STAMP=$CACHE_DIR/complete
RUN_DIR=${KAFKA_RUN_DIR:-$HERE/.run/kafka-$KAFKA_PORT}
DATA_DIR=$RUN_DIR/data
LOG_DIR=$RUN_DIR/logs
PID_FILE=$RUN_DIR/kafka.pid
PROPS=$RUN_DIR/server.properties
TLS_DIR=$RUN_DIR/tls
BROKER_OUT=$LOG_DIR/kafka.out
JAVA=java

say() { echo "kafka.sh: $*"; }
fail() {
    echo "kafka.sh: $*" >&2
    exit 1
}
missing() {
    echo "kafka.sh: $*" >&2
    exit 3
}

check_port_number() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        fail "$1 must be a TCP port (1-65535), got '$2'"
    fi
}

# Java 17+ from JAVA_HOME or PATH, else exit 3 with one line.
require_java() {
    if [[ -n ${JAVA_HOME:-} ]]; then
        JAVA=$JAVA_HOME/bin/java
        [[ -x $JAVA ]] || missing "java not found at \$JAVA_HOME/bin/java ($JAVA_HOME); Java 17+ is required"
    else
        command -v java >/dev/null 2>&1 || missing "java not found on PATH; Java 17+ is required"
    fi
    local spec
    spec=$("$JAVA" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p')
    ((${spec%%.*} >= 17)) 2>/dev/null || missing "Java 17+ is required, found Java ${spec:-unknown} ($JAVA)"
}

require_mvn() {
    command -v mvn >/dev/null 2>&1 || missing "mvn (Apache Maven) not found on PATH; it is needed once to fetch the Kafka jars"
}

# Serialise fetch/start/stop of the same cache or run dir across concurrent callers. The lock's
# file descriptor is closed for the broker process so that it never holds the lock.
lock() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pom_digest() { cksum <"$HERE/pom.xml"; }

# Prints the broker's pid when its pid file names a live process that is this broker (same
# kafka.Kafka command line with this run dir's server.properties), so a stale pid file or a
# reused pid never counts as "running".
running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    local args
    args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1
    [[ $args == *kafka.Kafka*"$PROPS"* ]] || return 1
    echo "$pid"
}

do_fetch() {
    if [[ -f $STAMP && $(<"$STAMP") == "$(pom_digest)" ]]; then return 0; fi
    lock "$HERE/.cache/fetch.lock"
    if [[ -f $STAMP && $(<"$STAMP") == "$(pom_digest)" ]]; then return 0; fi
    require_java
    require_mvn
    local tmp=$CACHE_DIR/libs.tmp.$$ mvn_log=$CACHE_DIR/mvn.log
    mkdir -p "$CACHE_DIR"
    rm -rf "$tmp"
    local mvn_args=(-B -f "$HERE/pom.xml" dependency:copy-dependencies
        -DincludeScope=runtime "-DoutputDirectory=$tmp")
    # Offline first: a warm ~/.m2 needs no network; fall back to Maven Central otherwise.
    if ! mvn -o "${mvn_args[@]}" >"$mvn_log" 2>&1 && ! mvn "${mvn_args[@]}" >>"$mvn_log" 2>&1; then
        tail -n 30 "$mvn_log" >&2
        rm -rf "$tmp"
        fail "could not resolve the Kafka $KAFKA_VERSION jars with Maven (full log: $mvn_log)"
    fi
    [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] ||
        fail "Maven succeeded but kafka_2.13-$KAFKA_VERSION.jar is missing from $tmp"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    pom_digest >"$STAMP"
}

cmd_fetch() {
    do_fetch
    say "Kafka $KAFKA_VERSION jars in $LIBS"
}

# A throwaway CA and a broker certificate for 127.0.0.1 (once per run dir), a PKCS12 keystore for
# the broker, and the SCRAM password: everything the SASL_SSL listener needs, under $TLS_DIR.
make_tls() {
    [[ -f $TLS_DIR/broker.p12 ]] && return 0
    command -v openssl >/dev/null 2>&1 || missing "openssl not found on PATH; the SASL_SSL listener needs it"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    local pass
    pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
            -subj "/CN=kafka.sh throwaway CA" &&
            openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
                -subj "/CN=$HOST" &&
            printf 'subjectAltName=IP:%s,DNS:localhost\n' "$HOST" >broker.ext &&
            openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out broker.pem -days 30 -extfile broker.ext &&
            openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem \
                -out broker.p12.tmp -passout "pass:$pass" &&
            printf '%s' "$pass" >keystore-password &&
            mv broker.p12.tmp broker.p12
    ) >>"$LOG_DIR/tls.log" 2>&1 || fail "making the throwaway CA and broker certificate failed (see $LOG_DIR/tls.log)"
}

sasl_password() {
    if [[ -n ${KAFKA_SASL_PASSWORD:-} ]]; then
        printf '%s' "$KAFKA_SASL_PASSWORD"
    else
        [[ -s $TLS_DIR/sasl-password ]] ||
            head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$TLS_DIR/sasl-password"
        cat "$TLS_DIR/sasl-password"
    fi
}

write_properties() {
    local listeners="PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
    local advertised="PLAINTEXT://$HOST:$KAFKA_PORT"
    local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if [[ -n $KAFKA_SASL_SSL_PORT ]]; then
        listeners+=",SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT"
        advertised+=",SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT"
        protocols+=",SASL_SSL:SASL_SSL"
    fi
    cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA_DIR

# One node: every internal topic has one replica and, to start fast, one partition.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

# Tests send a 5 MB request value that the worker must reject itself, so the broker accepts it.
message.max.bytes=8388608
log.segment.bytes=67108864
log.retention.hours=24

# Small footprint.
num.io.threads=2
num.network.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
    if [[ -n $KAFKA_SASL_SSL_PORT ]]; then
        cat >>"$PROPS" <<EOF

# SASL_SSL listener: SCRAM-SHA-512 users (created at format time), TLS from the throwaway CA.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$(<"$TLS_DIR/keystore-password")
ssl.client.auth=none
EOF
    fi
}

# A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters).
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    echo "$id"
}

format_storage() {
    [[ -f $DATA_DIR/meta.properties ]] && return 0
    mkdir -p "$DATA_DIR"
    # No log4j2 config here: the default (errors on the console) lands in format.log.
    local scram=()
    if [[ -n $KAFKA_SASL_SSL_PORT ]]; then
        scram=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$(sasl_password)]")
    fi
    "$JAVA" -Xmx256m -cp "$LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
        -t "$(new_cluster_id)" -c "$PROPS" "${scram[@]}" >>"$LOG_DIR/format.log" 2>&1 ||
        {
            tail -n 30 "$LOG_DIR/format.log" >&2
            fail "formatting KRaft storage in $DATA_DIR failed"
        }
}

launch_broker() {
    local heap
    read -r -a heap <<<"$KAFKA_HEAP"
    rm -f "$PID_FILE"
    # setsid: its own session, so the terminal's or a test runner's signals do not reach it; the
    # inner shell records its pid, then exec's Java under that same pid.
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
        "$JAVA" "${heap[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 \
        -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR" \
        -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$BROKER_OUT" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $PID_FILE ]] && return 0
        sleep 0.1
    done
    fail "the broker process did not start (see $BROKER_OUT)"
}

# The Python with aiokafka that runs kafka_ready.py, or nothing (then KafkaReady.java is used).
check_python() {
    local py=${KAFKA_CHECK_PYTHON:-$REPO_ROOT/.venv/bin/python}
    if [[ -x $py ]] && "$py" -c 'import aiokafka' >/dev/null 2>&1; then
        echo "$py"
    elif [[ -n ${KAFKA_CHECK_PYTHON:-} ]]; then
        say "KAFKA_CHECK_PYTHON=$KAFKA_CHECK_PYTHON cannot import aiokafka; using the Java check" >&2
    fi
}

# One bounded metadata check by a real client; its output goes to the broker's log dir.
ready_check() {
    local budget=$1 py=$2
    if [[ -n $py ]]; then
        "$py" "$HERE/kafka_ready.py" "$HOST:$KAFKA_PORT" --timeout "$budget"
    else
        "$JAVA" -Xmx128m -Dlog4j2.level=ERROR -cp "$LIBS/*" "$HERE/KafkaReady.java" \
            "$HOST:$KAFKA_PORT" "$budget"
    fi >>"$LOG_DIR/ready.log" 2>&1
}

show_logs() {
    local f
    for f in "$BROKER_OUT" "$LOG_DIR/server.log"; do
        [[ -s $f ]] || continue
        echo "---- last 30 lines of $f" >&2
        tail -n 30 "$f" >&2
    done
}

# Wait (bounded by KAFKA_READY_TIMEOUT) until the port accepts connections and a real client
# reads metadata, giving up at once if the broker process dies.
wait_ready() {
    local pid=$1 deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) py
    py=$(check_python)
    until port_open "$KAFKA_PORT"; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
    while kill -0 "$pid" 2>/dev/null; do
        local left=$((deadline - SECONDS))
        ((left > 0)) || return 1
        ready_check "$((left < 10 ? left : 10))" "$py" && return 0
    done
    return 1
}

cmd_start() {
    lock "$RUN_DIR/lock"
    local pid started=$SECONDS
    if pid=$(running_pid); then
        say "already running (pid $pid, $HOST:$KAFKA_PORT)"
        wait_ready "$pid" || fail "broker pid $pid is running but not answering on $HOST:$KAFKA_PORT"
        return 0
    fi
    require_java
    port_open "$KAFKA_PORT" && fail "port $KAFKA_PORT is in use by another process (set KAFKA_PORT)"
    port_open "$KAFKA_CONTROLLER_PORT" &&
        fail "controller port $KAFKA_CONTROLLER_PORT is in use by another process (set KAFKA_CONTROLLER_PORT)"
    do_fetch
    mkdir -p "$LOG_DIR"
    if [[ -n $KAFKA_SASL_SSL_PORT ]]; then
        port_open "$KAFKA_SASL_SSL_PORT" &&
            fail "SASL_SSL port $KAFKA_SASL_SSL_PORT is in use by another process (set KAFKA_SASL_SSL_PORT)"
        make_tls
        [[ ! -f $DATA_DIR/meta.properties || -f $TLS_DIR/sasl-formatted ]] ||
            fail "$DATA_DIR was formatted without SASL users; run '$0 reset' first"
    fi
    write_properties
    format_storage
    [[ -z $KAFKA_SASL_SSL_PORT ]] || touch "$TLS_DIR/sasl-formatted"
    launch_broker
    pid=$(<"$PID_FILE")
    if ! wait_ready "$pid"; then
        show_logs
        local why="exited during startup"
        if kill -0 "$pid" 2>/dev/null; then
            why="did not become ready on $HOST:$KAFKA_PORT within ${KAFKA_READY_TIMEOUT}s"
            stop_broker "$pid" >/dev/null
        fi
        rm -f "$PID_FILE"
        fail "broker $why (logs: $LOG_DIR)"
    fi
    say "Kafka $KAFKA_VERSION ready on $HOST:$KAFKA_PORT in $((SECONDS - started))s (pid $pid, logs $LOG_DIR)"
    if [[ -n $KAFKA_SASL_SSL_PORT ]]; then
        say "SASL_SSL on $HOST:$KAFKA_SASL_SSL_PORT: SCRAM-SHA-512 user $KAFKA_SASL_USER, CA $TLS_DIR/ca.pem"
    fi
}

# SIGTERM, wait up to KAFKA_STOP_TIMEOUT s, then SIGKILL; returns once the process is gone.
stop_broker() {
    local pid=$1 deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid still alive after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
}

wait_ports_free() {
    local port i
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $KAFKA_SASL_SSL_PORT; do
        for ((i = 0; i < 50; i++)); do
            port_open "$port" || continue 2
            sleep 0.1
        done
        fail "port $port is still accepting connections after the broker stopped"
    done
}

cmd_stop() {
    lock "$RUN_DIR/lock"
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE"
        say "not running ($HOST:$KAFKA_PORT)"
        return 0
    fi
    stop_broker "$pid"
    rm -f "$PID_FILE"
    wait_ports_free
    say "stopped (pid $pid)"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "running: pid $pid, $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)," \
            "rss $(($(ps -o rss= -p "$pid") / 1024)) MiB, run dir $RUN_DIR"
        return 0
    fi
    [[ -f $PID_FILE ]] && rm -f "$PID_FILE"
    echo "not running ($HOST:$KAFKA_PORT, controller $KAFKA_CONTROLLER_PORT)"
    return 1
}

cmd_reset() {
    cmd_stop
    rm -rf "$DATA_DIR" "$LOG_DIR" "$PROPS" "$TLS_DIR"
    say "wiped data and logs in $RUN_DIR"
}

main() {
    check_port_number KAFKA_PORT "$KAFKA_PORT"
    check_port_number KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
    [[ -z $KAFKA_SASL_SSL_PORT ]] || check_port_number KAFKA_SASL_SSL_PORT "$KAFKA_SASL_SSL_PORT"
    ((10#$KAFKA_PORT != 10#$KAFKA_CONTROLLER_PORT)) || fail "KAFKA_CONTROLLER_PORT must differ from KAFKA_PORT"
    [[ -n $KAFKA_VERSION ]] || fail "no <kafka.version> in $HERE/pom.xml"
    case ${1:-} in
        fetch) cmd_fetch ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        *)
            echo "usage: $0 fetch|start|stop|status|reset" >&2
            exit 2
            ;;
    esac
}

main "$@"
