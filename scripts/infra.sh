#!/usr/bin/env bash
# Makes the real infrastructure EventBackbone runs on available on 127.0.0.1:
#   RabbitMQ (AMQP 5672, management 15672) and PostgreSQL 15 (5432),
#   the `backbone` role and one database per service; plus a second, expendable PostgreSQL cluster
#   (`outage`, port 5433) and a second, expendable RabbitMQ node (`faults`, AMQP 5673, management 15673) that the
#   outage and fault-injection tests stop and start without disturbing anything else.
#   Also Debian's `chromium`, which the console's browser tests (tests/Console.Browser.Tests) drive through Playwright.
# Idempotent: running `up` twice changes nothing. `down` stops both servers; `env` prints the settings.
#
#   bash scripts/infra.sh up | down | status | env
set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_PORT=5432
# Tests that take PostgreSQL away mid-run stop this cluster, never the shared one other suites are using.
PG_OUTAGE_CLUSTER=outage
PG_OUTAGE_PORT=5433
DB_ROLE=backbone
DB_PASSWORD=backbone
# One database per service: no service ever reads another service's tables.
SERVICE_DATABASES=(backbone_ingestion backbone_workers backbone_sagas backbone_deadletters)

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if ! have apt-get; then
    die "$1 is missing and this is not a Debian/Ubuntu machine: install $1 with your package manager, then run this script again."
  fi
  is_root || die "$1 is missing: run this script as root (it uses apt-get), or install $1 yourself."
  if [ ! -f /var/lib/apt/periodic/eventbackbone-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock | grep -v partial || true)" ]; then
    log "apt-get update"
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/eventbackbone-updated
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- RabbitMQ
rabbit_running() { have rabbitmqctl && timeout 20 rabbitmqctl -q status >/dev/null 2>&1; }

rabbit_up() {
  if [ ! -x /usr/sbin/rabbitmq-server ] && ! have rabbitmq-server; then
    apt_install rabbitmq-server
  fi
  # Loopback only: tests and dev never need the broker reachable from outside this machine.
  local conf=/etc/rabbitmq/rabbitmq.conf
  local wanted=$'listeners.tcp.default = 127.0.0.1:5672\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = 15672\nloopback_users.guest = true\n'
  if is_root && [ "$(cat "$conf" 2>/dev/null)" != "${wanted%$'\n'}" ]; then
    printf '%s' "$wanted" > "$conf"
  fi
  if ! rabbit_running; then
    # --offline writes enabled_plugins before boot, so the node starts with management already on.
    rabbitmq-plugins --offline enable rabbitmq_management >/dev/null
    log "starting RabbitMQ"
    # The Debian package's service start is blocked where there is no init system: start the node ourselves.
    mkdir -p /var/log/rabbitmq
    (setsid nohup rabbitmq-server >>/var/log/rabbitmq/eventbackbone-start.log 2>&1 &)
    # await_startup gives up at once while the Erlang node is not yet reachable, so ask again until it answers.
    local deadline=$((SECONDS + 120))
    until timeout 30 rabbitmqctl -q await_startup --timeout 25 >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || die "RabbitMQ did not start within 120 s; see /var/log/rabbitmq/"
      sleep 1
    done
  else
    # Running already (perhaps started elsewhere): make sure management is on; a no-op when it is.
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null
  fi
  wait_for_port 127.0.0.1 5672 "RabbitMQ AMQP"
  wait_for_port 127.0.0.1 15672 "RabbitMQ management"
}

rabbit_down() {
  if rabbit_running; then log "stopping RabbitMQ"; rabbitmqctl -q stop >/dev/null 2>&1 || true; fi
  if rabbit_faults_running; then log "stopping RabbitMQ node $RABBIT_FAULTS_NODE"; rabbitmqctl -n "$RABBIT_FAULTS_NODE" -q stop >/dev/null 2>&1 || true; fi
}

# The fault-injection suite stops and starts this node's app (rabbitmqctl stop_app/start_app) under load; on the
# shared node that would break every other suite running at the same time.
RABBIT_FAULTS_NODE="faults@$(hostname -s)"
RABBIT_FAULTS_PORT=5673
RABBIT_FAULTS_MANAGEMENT_PORT=15673
rabbit_faults_running() { have rabbitmqctl && timeout 20 rabbitmqctl -n "$RABBIT_FAULTS_NODE" -q status >/dev/null 2>&1; }

rabbit_faults_up() {
  local base=/var/lib/rabbitmq/faults logs=/var/log/rabbitmq/faults conf=/etc/rabbitmq/faults.conf
  if rabbit_faults_running; then
    # Left stopped (stop_app) by an interrupted run: start the app again; a no-op when it runs.
    timeout 60 rabbitmqctl -n "$RABBIT_FAULTS_NODE" -q start_app >/dev/null 2>&1 || true
  else
    is_root || die "the RabbitMQ node $RABBIT_FAULTS_NODE is not running: run this script as root to start it."
    mkdir -p "$base" "$logs" && chown -R rabbitmq:rabbitmq "$base" "$logs"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s\nloopback_users.guest = true\n' \
      "$RABBIT_FAULTS_PORT" "$RABBIT_FAULTS_MANAGEMENT_PORT" > "$conf"
    log "starting RabbitMQ node $RABBIT_FAULTS_NODE"
    (RABBITMQ_NODENAME="$RABBIT_FAULTS_NODE" RABBITMQ_NODE_PORT=$RABBIT_FAULTS_PORT RABBITMQ_DIST_PORT=$((RABBIT_FAULTS_PORT + 20000)) \
      RABBITMQ_MNESIA_BASE="$base" RABBITMQ_LOG_BASE="$logs" RABBITMQ_CONFIG_FILE="$conf" RABBITMQ_PID_FILE="$base/pid" \
      setsid nohup rabbitmq-server >>"$logs/start.log" 2>&1 &)
    local deadline=$((SECONDS + 120))
    until timeout 30 rabbitmqctl -n "$RABBIT_FAULTS_NODE" -q await_startup --timeout 25 >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || die "RabbitMQ node $RABBIT_FAULTS_NODE did not start within 120 s; see $logs"
      sleep 1
    done
  fi
  wait_for_port 127.0.0.1 "$RABBIT_FAULTS_PORT" "RabbitMQ (faults node) AMQP"
  wait_for_port 127.0.0.1 "$RABBIT_FAULTS_MANAGEMENT_PORT" "RabbitMQ (faults node) management"
}

# ---------------------------------------------------------------- Chromium
# The console's browser tests drive Debian's chromium through Playwright (ExecutablePath): Playwright's own browser
# download cannot reach its servers from these machines, so `playwright install` is never part of setup.
CHROMIUM=/usr/bin/chromium
chromium_up() {
  [ -x "$CHROMIUM" ] || apt_install chromium
  [ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing"
}

# ---------------------------------------------------------------- PostgreSQL
pg_status() { # [cluster]
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="${1:-$PG_CLUSTER}" '$1==v && $2==c {print $4}'
}

pg_up() {
  if ! have pg_ctlcluster || [ ! -d "/usr/lib/postgresql/$PG_VERSION" ]; then
    apt_install "postgresql-$PG_VERSION"
  fi
  pg_cluster_up "$PG_CLUSTER" "$PG_PORT"
  pg_provision "$PG_PORT" "${SERVICE_DATABASES[@]}"
  pg_cluster_up "$PG_OUTAGE_CLUSTER" "$PG_OUTAGE_PORT"
  pg_provision "$PG_OUTAGE_PORT"
}

# Our settings beside Debian's defaults (conf.d is included by its postgresql.conf). Succeeds when it changed them.
#  - max_connections 300: the test suite runs its assemblies in parallel, each fixture with its own database and pools
#    (EF Core's and the durable core's), and the benchmarks keep every contender connected at 128 in flight; at the
#    default 100, runs failed with 53300 "remaining connection slots are reserved".
#  - pg_stat_statements: where the durable pipeline's PostgreSQL time goes, per statement (bench/README's profiles).
pg_settings() { # cluster
  local file="/etc/postgresql/$PG_VERSION/$1/conf.d/backbone.conf"
  local want="# written by scripts/infra.sh
max_connections = 300
shared_preload_libraries = 'pg_stat_statements'"
  [ "$(cat "$file" 2>/dev/null)" = "$want" ] && return 1
  printf '%s\n' "$want" > "$file"
}

pg_cluster_up() { # cluster port
  local cluster=$1 port=$2 i
  if [ -z "$(pg_status "$cluster")" ]; then
    is_root || die "PostgreSQL cluster $PG_VERSION/$cluster does not exist: run as root to create it."
    pg_createcluster "$PG_VERSION" "$cluster" --port "$port" >/dev/null
  fi
  if pg_settings "$cluster" && [ "$(pg_status "$cluster")" = "online" ]; then
    log "restarting PostgreSQL $PG_VERSION/$cluster for its new settings"
    pg_ctlcluster "$PG_VERSION" "$cluster" restart
  fi
  if [ "$(pg_status "$cluster")" != "online" ]; then
    log "starting PostgreSQL $PG_VERSION/$cluster"
    pg_ctlcluster "$PG_VERSION" "$cluster" start
  fi
  for i in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || die "PostgreSQL is not accepting connections on 127.0.0.1:$port"
}

psql_admin() { local port=$1; shift; su postgres -c "psql -v ON_ERROR_STOP=1 -qtAX -p $port $*"; }

pg_provision() { # port [database...]
  local port=$1 db; shift
  # CREATEDB: the test suites create throwaway databases of their own so runs never share state.
  if [ "$(psql_admin "$port" "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'\"")" != "1" ]; then
    log "creating role $DB_ROLE on port $port"
    psql_admin "$port" "-c \"CREATE ROLE $DB_ROLE LOGIN CREATEDB PASSWORD '$DB_PASSWORD'\""
  fi
  for db in "$@"; do
    if [ "$(psql_admin "$port" "-c \"SELECT 1 FROM pg_database WHERE datname = '$db'\"")" != "1" ]; then
      log "creating database $db"
      psql_admin "$port" "-c \"CREATE DATABASE $db OWNER $DB_ROLE\""
    fi
  done
}

pg_down() {
  local cluster
  for cluster in "$PG_OUTAGE_CLUSTER" "$PG_CLUSTER"; do
    if [ "$(pg_status "$cluster")" = "online" ]; then log "stopping PostgreSQL $cluster"; pg_ctlcluster "$PG_VERSION" "$cluster" stop; fi
  done
}

wait_for_port() {
  local host=$1 port=$2 what=$3 i
  for i in $(seq 1 120); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    sleep 0.5
  done
  die "$what is not accepting connections on $host:$port"
}

print_env() {
  cat <<ENV
# EventBackbone settings for the local infrastructure (eval "\$(bash scripts/infra.sh env)"):
export Backbone__Transport=RabbitMq
export Backbone__RabbitMq__Host=127.0.0.1
export Backbone__RabbitMq__Port=5672
export Backbone__RabbitMq__VirtualHost=/
export Backbone__RabbitMq__Username=guest
export Backbone__RabbitMq__Password=guest
export Backbone__RabbitMq__ManagementUrl=http://127.0.0.1:15672
export Backbone__Postgres__AdminConnectionString='Host=127.0.0.1;Port=$PG_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=postgres'
export Backbone__RabbitMq__FaultsNode=$RABBIT_FAULTS_NODE
export Backbone__RabbitMq__FaultsPort=$RABBIT_FAULTS_PORT
export Backbone__RabbitMq__FaultsManagementUrl=http://127.0.0.1:$RABBIT_FAULTS_MANAGEMENT_PORT
export Backbone__Postgres__OutageCluster=$PG_VERSION/$PG_OUTAGE_CLUSTER
export Backbone__Postgres__OutageAdminConnectionString='Host=127.0.0.1;Port=$PG_OUTAGE_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=postgres'
export ConnectionStrings__Ingestion='Host=127.0.0.1;Port=$PG_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=backbone_ingestion'
export ConnectionStrings__Workers='Host=127.0.0.1;Port=$PG_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=backbone_workers'
export ConnectionStrings__Sagas='Host=127.0.0.1;Port=$PG_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=backbone_sagas'
export ConnectionStrings__DeadLetters='Host=127.0.0.1;Port=$PG_PORT;Username=$DB_ROLE;Password=$DB_PASSWORD;Database=backbone_deadletters'
ENV
}

case "${1:-up}" in
  up)     rabbit_up; rabbit_faults_up; pg_up; chromium_up; log "RabbitMQ, PostgreSQL and chromium are up"; print_env ;;
  down)   rabbit_down; pg_down ;;
  status) printf 'rabbitmq: %s\nrabbitmq (faults): %s\npostgresql: %s\npostgresql (outage): %s\nchromium: %s\n' "$(rabbit_running && echo online || echo down)" \
            "$(rabbit_faults_running && echo online || echo down)" \
            "$(pg_status || echo missing)" "$(pg_status "$PG_OUTAGE_CLUSTER" || echo missing)" \
            "$([ -x "$CHROMIUM" ] && echo installed || echo missing)" ;;
  env)    print_env ;;
  *)      die "usage: bash scripts/infra.sh up|down|status|env" ;;
esac
