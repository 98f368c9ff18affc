#!/usr/bin/env bash
# Makes the real infrastructure EventBackbone runs on available on 127.0.0.1:
#   RabbitMQ (AMQP 5672, management 15672) and PostgreSQL 15 (5432),
#   the `backbone` role and one database per service; plus a second, expendable PostgreSQL cluster
#   (`outage`, port 5433) and a second, expendable RabbitMQ node (`faults`, AMQP 5673, management 15673) that the
#   outage and fault-injection tests stop and start without disturbing anything else.
#   Also Debian's `chromium`, which the console's browser tests (tests/Console.Browser.Tests) drive through Playwright.
# Idempotent: running `up` twice changes nothing. `down` stops both servers; `env` prints the settings.
# `cluster …` runs a three-node RabbitMQ cluster and a PostgreSQL primary + synchronous standby beside all of that
# (README, "A cluster on one machine").
#
#   bash scripts/infra.sh up | down | status | env
#   bash scripts/infra.sh cluster up | down | status | env | promote | partition N | heal [N]
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
# A server started from here must not keep the caller's open files beyond stdin/out/err: one started by a test that runs
# under `flock /work/wt/heavy.lock …` held that lock for as long as the server ran (every later `flock` waited forever).
# Call in the subshell that starts the server.
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$BASHPID/fd); do
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}
# pg_ctlcluster start|restart forks the postmaster: in a subshell without the caller's open files (above).
pg_ctl_detached() { (close_inherited_fds; pg_ctlcluster "$@"); }

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
    (close_inherited_fds; setsid nohup rabbitmq-server >>/var/log/rabbitmq/eventbackbone-start.log 2>&1 &)
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
    (close_inherited_fds; RABBITMQ_NODENAME="$RABBIT_FAULTS_NODE" RABBITMQ_NODE_PORT=$RABBIT_FAULTS_PORT RABBITMQ_DIST_PORT=$((RABBIT_FAULTS_PORT + 20000)) \
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

# The contracts' non-.NET publisher (examples/node-publisher, run by tests/EndToEnd.Tests/NodePublisherSpecs) needs
# Node.js and npm; Debian's packages where the machine has none.
node_up() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  command -v node >/dev/null && command -v npm >/dev/null || die "nodejs and npm were installed but node or npm is missing"
}

# ---------------------------------------------------------------- PostgreSQL
pg_status() { # [cluster]
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="${1:-$PG_CLUSTER}" '$1==v && $2==c {print $4}'
}

# A standby (scripts/infra.sh cluster) reads "online,recovery".
pg_online() { case "$(pg_status "$1")" in online*) return 0 ;; *) return 1 ;; esac; }

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
  if pg_settings "$cluster" && pg_online "$cluster"; then
    log "restarting PostgreSQL $PG_VERSION/$cluster for its new settings"
    pg_ctl_detached "$PG_VERSION" "$cluster" restart
  fi
  if ! pg_online "$cluster"; then
    log "starting PostgreSQL $PG_VERSION/$cluster"
    pg_ctl_detached "$PG_VERSION" "$cluster" start
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

# ================================================================ cluster
# `cluster up|down|status|env|promote|partition N|heal N`: a three-node RabbitMQ cluster and a PostgreSQL primary with
# a synchronous streaming standby, all on 127.0.0.1, beside (never instead of) the single-node setup above.

# ---------------------------------------------------------------- RabbitMQ cluster
# Node i: cluster<i>@<host>, AMQP 568<i>, management 1568<i>, Erlang distribution (node-to-node traffic) 2568<i>.
CLUSTER_NODES=(1 2 3)
CLUSTER_HOST=$(hostname -s)
CLUSTER_AMQP_BASE=5680
CLUSTER_MANAGEMENT_BASE=15680
CLUSTER_DIST_BASE=25680
CLUSTER_USER=backbone
CLUSTER_PASSWORD=backbone
CLUSTER_DATA=/var/lib/rabbitmq/cluster
CLUSTER_LOGS=/var/log/rabbitmq/cluster
# Erlang's net_ticktime: how long a node may be silent before its peers call it gone (default 60 s). 15 s makes a
# partition visible within 15-20 s; lower risks false partitions on a machine as loaded as CI.
CLUSTER_NET_TICKTIME=15
# pause_minority: a node cut off from the other two stops serving (its clients move to the majority) and resumes by
# itself when the link is back; RabbitMQ's recommended partition handling for a cluster of three. `ignore` or
# `autoheal` instead, for a node's next start: CLUSTER_PARTITION_HANDLING=ignore bash scripts/infra.sh cluster up.
CLUSTER_PARTITION_HANDLING=${CLUSTER_PARTITION_HANDLING:-pause_minority}

cluster_node() { printf 'cluster%s@%s' "$1" "$CLUSTER_HOST"; }
cluster_amqp_port() { echo $((CLUSTER_AMQP_BASE + $1)); }
cluster_management_port() { echo $((CLUSTER_MANAGEMENT_BASE + $1)); }
cluster_dist_port() { echo $((CLUSTER_DIST_BASE + $1)); }
# Each node opens its connections to the other nodes from an address of its own (127.0.0.11, .12, .13), so that
# `cluster partition` can cut exactly the node-to-node links with iptables and nothing else (AMQP, management and
# rabbitmqctl, which connect from 127.0.0.1, keep working).
cluster_source_ip() { echo "127.0.0.$((10 + $1))"; }
cluster_ctl() { local i=$1; shift; timeout 60 rabbitmqctl -n "$(cluster_node "$i")" -q "$@"; }
# ping, not status: a node paused by pause_minority answers, with its rabbit app stopped.
cluster_node_running() { have rabbitmqctl && timeout 20 rabbitmqctl -n "$(cluster_node "$1")" -q ping >/dev/null 2>&1; }
cluster_node_pid() { cat "$CLUSTER_DATA/$1/pid" 2>/dev/null || true; }

cluster_node_start() { # i
  local i=$1 base="$CLUSTER_DATA/$1" logs="$CLUSTER_LOGS/$1" conf="/etc/rabbitmq/cluster$1.conf" ip
  ip=$(cluster_source_ip "$i")
  case $CLUSTER_PARTITION_HANDLING in pause_minority | ignore | autoheal) ;; *) die "CLUSTER_PARTITION_HANDLING must be pause_minority, ignore or autoheal" ;; esac
  mkdir -p "$base" "$logs"
    printf '%s\n' "listeners.tcp.default = 127.0.0.1:$(cluster_amqp_port "$i")" \
    "management.tcp.ip = 127.0.0.1" "management.tcp.port = $(cluster_management_port "$i")" \
    "loopback_users.guest = true" "cluster_partition_handling = $CLUSTER_PARTITION_HANDLING" > "$conf"
  printf '[rabbitmq_management].\n' > "$base/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$base" "$logs"
  log "starting RabbitMQ node $(cluster_node "$i")"
  # The distribution listens on loopback only; +sbwt none: five Erlang VMs share two cores, none may spin idle.
  (close_inherited_fds; RABBITMQ_NODENAME="$(cluster_node "$i")" RABBITMQ_NODE_PORT="$(cluster_amqp_port "$i")" \
    RABBITMQ_DIST_PORT="$(cluster_dist_port "$i")" RABBITMQ_MNESIA_BASE="$base" RABBITMQ_LOG_BASE="$logs" \
    RABBITMQ_CONFIG_FILE="$conf" RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" RABBITMQ_PID_FILE="$base/pid" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -kernel inet_dist_connect_options [{ip,{${ip//./,}}}] -kernel net_ticktime $CLUSTER_NET_TICKTIME +sbwt none +sbwtdcpu none +sbwtdio none" \
    setsid nohup rabbitmq-server >>"$logs/start.log" 2>&1 &)
}

cluster_node_await() { # i
  local i=$1 deadline=$((SECONDS + 180))
  until timeout 30 rabbitmqctl -n "$(cluster_node "$i")" -q await_startup --timeout 25 >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "RabbitMQ node $(cluster_node "$i") did not start within 180 s; see $CLUSTER_LOGS/$i"
    sleep 1
  done
}

cluster_node_is_member() { # i: is node i clustered with node 1?
  [ "$(cluster_ctl "$1" eval "lists:member('$(cluster_node 1)', rabbit_mnesia:cluster_nodes(all))." 2>/dev/null)" = "true" ]
}

cluster_rabbit_up() {
  local i started=()
  if [ ! -x /usr/sbin/rabbitmq-server ] && ! have rabbitmq-server; then apt_install rabbitmq-server; fi
  if have iptables && iptables -S "$PARTITION_CHAIN" 2>/dev/null | grep eventbackbone-partition >/dev/null; then
    die "a RabbitMQ node is cut off (cluster partition): run cluster heal first"
  fi
  for i in "${CLUSTER_NODES[@]}"; do
    if cluster_node_running "$i"; then
      cluster_ctl "$i" start_app >/dev/null 2>&1 || true   # left stopped by stop_app: start it; a no-op when it runs
    else
      is_root || die "RabbitMQ node $(cluster_node "$i") is not running: run this script as root to start it."
      cluster_node_start "$i"; started+=("$i")
    fi
  done
  # Started together: a node that was clustered waits at boot for the others it knew.
  for i in "${started[@]}"; do cluster_node_await "$i"; done
  for i in 2 3; do
    if ! cluster_node_is_member "$i"; then
      log "joining $(cluster_node "$i") to $(cluster_node 1)"
      cluster_ctl "$i" stop_app >/dev/null
      cluster_ctl "$i" join_cluster "$(cluster_node 1)" >/dev/null
      cluster_ctl "$i" start_app >/dev/null
    fi
  done
  # Quorum queues need the quorum_queue feature flag (on by default on a fresh 3.10 node); enable every flag the
  # cluster's version has, a no-op when they are.
  cluster_ctl 1 enable_feature_flag all >/dev/null
  if ! cluster_ctl 1 list_users | awk '{print $1}' | grep -x "$CLUSTER_USER" >/dev/null; then
    log "creating RabbitMQ user $CLUSTER_USER (administrator) on the cluster"
    cluster_ctl 1 add_user "$CLUSTER_USER" "$CLUSTER_PASSWORD" >/dev/null
    cluster_ctl 1 set_user_tags "$CLUSTER_USER" administrator >/dev/null
  fi
  cluster_ctl 1 set_permissions -p / "$CLUSTER_USER" '.*' '.*' '.*' >/dev/null
  for i in "${CLUSTER_NODES[@]}"; do
    wait_for_port 127.0.0.1 "$(cluster_amqp_port "$i")" "RabbitMQ $(cluster_node "$i") AMQP"
    wait_for_port 127.0.0.1 "$(cluster_management_port "$i")" "RabbitMQ $(cluster_node "$i") management"
  done
}

cluster_rabbit_down() {
  local i pid
  for i in "${CLUSTER_NODES[@]}"; do
    if cluster_node_running "$i"; then log "stopping RabbitMQ node $(cluster_node "$i")"; cluster_ctl "$i" stop >/dev/null 2>&1 || true; fi
    pid=$(cluster_node_pid "$i")
    # A node that does not answer (paused, or its CLI cut off) is ended by the pid it wrote: only that process.
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then log "killing RabbitMQ node $(cluster_node "$i") (pid $pid)"; kill -9 "$pid" || true; fi
    rm -rf "${CLUSTER_DATA:?}/$i" "${CLUSTER_LOGS:?}/$i" "/etc/rabbitmq/cluster$i.conf"
  done
  rmdir "$CLUSTER_DATA" "$CLUSTER_LOGS" 2>/dev/null || true
}

# ---------------------------------------------------------------- partitions (iptables)
# `cluster partition N` drops, on loopback, every packet of the Erlang distribution links between node N and the
# other two (both directions; new and established connections), so each side stops hearing the other after
# net_ticktime. AMQP, management, epmd and rabbitmqctl are untouched. `cluster heal N` removes those rules.
PARTITION_CHAIN=EB_CLUSTER_PARTITION

partition_chain() {
  have iptables || apt_install iptables
  is_root || die "partitions need iptables: run this script as root."
  iptables -n -L "$PARTITION_CHAIN" >/dev/null 2>&1 || iptables -N "$PARTITION_CHAIN" || die "iptables cannot create a chain here (no netfilter in this kernel?)"
  iptables -C INPUT -j "$PARTITION_CHAIN" 2>/dev/null || iptables -I INPUT -j "$PARTITION_CHAIN"
}

partition_rules() { # n: the rules that cut node n from the others, as iptables arguments, one set a line
  local n=$1 m
  for m in "${CLUSTER_NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    # n's links to m (n connects from its own address to m's distribution port), and the replies
    echo "-s $(cluster_source_ip "$n") -p tcp --dport $(cluster_dist_port "$m")"
    echo "-d $(cluster_source_ip "$n") -p tcp --sport $(cluster_dist_port "$m")"
    # m's links to n, and the replies
    echo "-s $(cluster_source_ip "$m") -p tcp --dport $(cluster_dist_port "$n")"
    echo "-d $(cluster_source_ip "$m") -p tcp --sport $(cluster_dist_port "$n")"
  done
}

cluster_partition() { # n
  local n=${1:-} rule
  [[ "$n" =~ ^[123]$ ]] || die "usage: bash scripts/infra.sh cluster partition 1|2|3"
  partition_chain
  while read -r rule; do
    # shellcheck disable=SC2086 # the rule is a list of iptables arguments
    iptables -C "$PARTITION_CHAIN" $rule -m comment --comment "eventbackbone-partition-$n" -j DROP 2>/dev/null ||
      iptables -A "$PARTITION_CHAIN" $rule -m comment --comment "eventbackbone-partition-$n" -j DROP
  done < <(partition_rules "$n")
  log "node $(cluster_node "$n") is cut off from the other two (distribution ports dropped); heal with: cluster heal $n"
}

cluster_heal() { # [n]: without n, every partition
  local n=${1:-} rule
  [ -z "$n" ] || [[ "$n" =~ ^[123]$ ]] || die "usage: bash scripts/infra.sh cluster heal [1|2|3]"
  have iptables && iptables -n -L "$PARTITION_CHAIN" >/dev/null 2>&1 || return 0
  while read -r rule; do
    # shellcheck disable=SC2086
    iptables ${rule/-A /-D }
  done < <(iptables -S "$PARTITION_CHAIN" 2>/dev/null | grep -- "--comment eventbackbone-partition-${n:-[123]} " || true)
  log "partition rules removed${n:+ for node $(cluster_node "$n")}"
}

partition_remove_chain() {
  have iptables && iptables -n -L "$PARTITION_CHAIN" >/dev/null 2>&1 || return 0
  iptables -D INPUT -j "$PARTITION_CHAIN" 2>/dev/null || true
  iptables -F "$PARTITION_CHAIN" && iptables -X "$PARTITION_CHAIN"
}

# ---------------------------------------------------------------- PostgreSQL primary + synchronous standby
# Two clusters, failover_a (5441) and failover_b (5442). Fresh, a is the primary and b its synchronous standby
# (a commit is acknowledged only once b has it). `cluster promote` fences the primary (stops it if it still runs)
# and promotes the standby; the next `cluster up` brings the old primary back as the standby of the new one
# (pg_rewind, or a fresh pg_basebackup when rewinding fails), so after one promote b is primary and a standby.
# Which one is the primary is read off the data directories: the one without standby.signal on the newest timeline.
FAILOVER_CLUSTERS=(failover_a failover_b)
REPLICATION_ROLE=replicator
REPLICATION_PASSWORD=replicator

fo_port() { case $1 in failover_a) echo 5441 ;; failover_b) echo 5442 ;; *) die "unknown cluster $1" ;; esac; }
fo_other() { [ "$1" = failover_a ] && echo failover_b || echo failover_a; }
fo_datadir() { echo "/var/lib/postgresql/$PG_VERSION/$1"; }
fo_confdir() { echo "/etc/postgresql/$PG_VERSION/$1/conf.d"; }
fo_exists() { [ -n "$(pg_status "$1")" ]; }
fo_online() { pg_online "$1"; }
fo_is_standby() { [ -f "$(fo_datadir "$1")/standby.signal" ]; }
fo_timeline() { # the newest timeline a cluster has seen (its newest history file; 1 when none)
  local h
  h=$(find "$(fo_datadir "$1")/pg_wal" -maxdepth 1 -name '*.history' -printf '%f\n' 2>/dev/null | sort | tail -1)
  if [ -n "$h" ]; then echo $((16#${h%.history})); else echo 1; fi
}
fo_sql() { local c=$1; shift; psql_admin "$(fo_port "$c")" "-d postgres -c \"$*\""; }

fo_primary() {
  local a=failover_a b=failover_b
  local a_p=0 b_p=0
  fo_exists "$a" && ! fo_is_standby "$a" && a_p=1
  fo_exists "$b" && ! fo_is_standby "$b" && b_p=1
  if [ $a_p = 1 ] && [ $b_p = 1 ]; then
    # Both were primaries (a promote while the old primary was away): the newer timeline is the current one.
    if [ "$(fo_timeline "$b")" -gt "$(fo_timeline "$a")" ]; then echo "$b"; else echo "$a"; fi
  elif [ $b_p = 1 ]; then echo "$b"
  elif [ $a_p = 1 ] || ! fo_exists "$a"; then echo "$a"
  else die "both failover clusters are standbys: promote one (bash scripts/infra.sh cluster promote) or run cluster down"
  fi
}

# Settings both clusters share; succeeds when it changed them (a restart is then needed: wal_log_hints).
fo_replication_settings() { # cluster
  local file want
  file="$(fo_confdir "$1")/replication.conf"
  want="# written by scripts/infra.sh cluster
wal_level = replica
# pg_rewind can bring a failed primary back as a standby only with hint bits logged
wal_log_hints = on
wal_keep_size = '256MB'
max_wal_senders = 10
hot_standby = on
synchronous_commit = on"
  [ "$(cat "$file" 2>/dev/null)" = "$want" ] && return 1
  printf '%s\n' "$want" > "$file"
}

fo_role_primary() { # cluster [standby]: synchronous replication to the standby; none (commits on one node) without
  local c=$1 names=${2:-}
  printf '# written by scripts/infra.sh cluster: primary\nsynchronous_standby_names = '"'%s'"'\n' "$names" > "$(fo_confdir "$c")/failover.conf"
  if fo_online "$c"; then fo_sql "$c" "SELECT pg_reload_conf()" >/dev/null; fi
}

fo_role_standby() { # cluster primary
  local c=$1 p=$2
  printf '%s\n' "# written by scripts/infra.sh cluster: standby of $p" \
    "primary_conninfo = 'host=127.0.0.1 port=$(fo_port "$p") user=$REPLICATION_ROLE password=$REPLICATION_PASSWORD application_name=$c'" \
    > "$(fo_confdir "$c")/failover.conf"
  touch "$(fo_datadir "$c")/standby.signal" && chown postgres:postgres "$(fo_datadir "$c")/standby.signal"
}

fo_create() { # cluster
  is_root || die "PostgreSQL cluster $PG_VERSION/$1 does not exist: run as root to create it."
  log "creating PostgreSQL cluster $PG_VERSION/$1 on port $(fo_port "$1")"
  pg_createcluster "$PG_VERSION" "$1" --port "$(fo_port "$1")" >/dev/null
}

fo_stop() { # cluster: stopped, and no process of it left (a killed postmaster's backends go by themselves)
  local c=$1 i
  if fo_online "$c"; then log "stopping PostgreSQL $PG_VERSION/$c"; pg_ctlcluster "$PG_VERSION" "$c" stop -m fast || true; fi
  for i in $(seq 1 40); do
    pgrep -u postgres -f "^postgres: $PG_VERSION/$c: |$(fo_datadir "$c")( |$)" >/dev/null || return 0
    sleep 0.5
  done
  die "processes of PostgreSQL $PG_VERSION/$c are still running (pgrep -af $(fo_datadir "$c"))"
}

fo_primary_up() { # cluster
  local c=$1
  fo_exists "$c" || { fo_create "$c"; fo_role_primary "$c"; }
  if fo_replication_settings "$c" && fo_online "$c"; then
    log "restarting PostgreSQL $PG_VERSION/$c for its new settings"; pg_ctl_detached "$PG_VERSION" "$c" restart
  fi
  grep -q primary_conninfo "$(fo_confdir "$c")/failover.conf" 2>/dev/null && fo_role_primary "$c"  # was a standby
  pg_cluster_up "$c" "$(fo_port "$c")"
  if [ "$(fo_sql "$c" "SELECT 1 FROM pg_roles WHERE rolname = '$REPLICATION_ROLE'")" != "1" ]; then
    log "creating replication role $REPLICATION_ROLE on $c"
    fo_sql "$c" "CREATE ROLE $REPLICATION_ROLE LOGIN REPLICATION PASSWORD '$REPLICATION_PASSWORD'"
  fi
  pg_provision "$(fo_port "$c")" "${SERVICE_DATABASES[@]}"
}

fo_basebackup() { # standby primary: a fresh copy of the primary
  local s=$1 p=$2 dir
  dir=$(fo_datadir "$s")
  log "copying $p into $s (pg_basebackup)"
  find "$dir" -mindepth 1 -delete
  su postgres -c "PGPASSWORD=$REPLICATION_PASSWORD /usr/lib/postgresql/$PG_VERSION/bin/pg_basebackup -h 127.0.0.1 -p $(fo_port "$p") -U $REPLICATION_ROLE -D $dir -X stream -c fast" \
    || die "pg_basebackup from $p into $s failed"
}

fo_rewind() { # old-primary new-primary: succeeds when pg_rewind brought it onto the new primary's timeline
  local s=$1 p=$2
  local out="/var/log/postgresql/pg_rewind-$PG_VERSION-$s.log"
  log "rewinding $s onto $p (pg_rewind; see $out)"
  # --config-file: Debian keeps postgresql.conf out of the data directory, and pg_rewind first finishes the crash
  # recovery of a killed primary in single-user mode.
  su postgres -c "/usr/lib/postgresql/$PG_VERSION/bin/pg_rewind --target-pgdata=$(fo_datadir "$s") --config-file=/etc/postgresql/$PG_VERSION/$s/postgresql.conf --source-server='host=/var/run/postgresql port=$(fo_port "$p") user=postgres dbname=postgres'" >"$out" 2>&1
}

fo_standby_up() { # standby primary
  local s=$1 p=$2
  if ! fo_exists "$s"; then
    fo_create "$s"; fo_basebackup "$s" "$p"
  elif ! fo_is_standby "$s" || ! grep -q "port=$(fo_port "$p") " "$(fo_confdir "$s")/failover.conf" 2>/dev/null; then
    # A former primary (promoted away from, perhaps killed): bring it onto the new primary's history.
    fo_stop "$s"
    fo_rewind "$s" "$p" || { log "pg_rewind failed: a fresh copy instead"; fo_basebackup "$s" "$p"; }
  fi
  fo_replication_settings "$s" || true
  fo_role_standby "$s" "$p"
  pg_cluster_up "$s" "$(fo_port "$s")"
  fo_replication_reaches "$p" "$s" state streaming 120 \
    || die "$s does not stream from $p; see /var/log/postgresql/postgresql-$PG_VERSION-$s.log"
}

# Waits (up to tries × 0.5 s) until the primary's pg_stat_replication row for the standby has column = value.
fo_replication_reaches() { # primary standby column value tries
  local i
  for i in $(seq 1 "$5"); do
    [ "$(fo_sql "$1" "SELECT $3 FROM pg_stat_replication WHERE application_name = '$2'")" = "$4" ] && return 0
    sleep 0.5
  done
  return 1
}

cluster_pg_up() {
  local p s
  if ! have pg_ctlcluster || [ ! -d "/usr/lib/postgresql/$PG_VERSION" ]; then apt_install "postgresql-$PG_VERSION"; fi
  p=$(fo_primary); s=$(fo_other "$p")
  fo_primary_up "$p"
  fo_standby_up "$s" "$p"
  if ! grep -qx "synchronous_standby_names = '$s'" "$(fo_confdir "$p")/failover.conf"; then
    log "synchronous replication: $p waits for $s on every commit"
    fo_role_primary "$p" "$s"
  fi
  fo_replication_reaches "$p" "$s" sync_state sync 60 || die "$s streams from $p but is not synchronous"
}

cluster_promote() {
  local s p t0
  p=$(fo_primary); s=$(fo_other "$p")
  if ! fo_exists "$s" || ! fo_is_standby "$s"; then die "there is no standby to promote (run cluster up)"; fi
  fo_online "$s" || die "the standby $s is not running"
  t0=$(date +%s%N)
  # Fencing: two primaries would split writes, and target_session_attrs=primary would still pick the old one.
  if fo_online "$p"; then log "fencing the old primary $p (stopping it)"; pg_ctlcluster "$PG_VERSION" "$p" stop -m immediate || true; fi
  log "promoting $s"
  pg_ctlcluster "$PG_VERSION" "$s" promote
  # Alone now: commits cannot wait for a standby that is not there (`cluster up` brings one back and makes it sync).
  fo_role_primary "$s"
  fo_sql "$s" "CHECKPOINT" >/dev/null
  log "$s (port $(fo_port "$s")) is the primary, in $(( ($(date +%s%N) - t0) / 1000000 )) ms; cluster up makes $p its standby"
}

cluster_pg_down() {
  local c
  for c in "${FAILOVER_CLUSTERS[@]}"; do
    if fo_exists "$c"; then log "removing PostgreSQL $PG_VERSION/$c"; pg_dropcluster --stop "$PG_VERSION" "$c"; fi
    rm -f "/var/log/postgresql/pg_rewind-$PG_VERSION-$c.log"
  done
}

fo_describe() { # cluster
  local c=$1
  if ! fo_exists "$c"; then echo missing; return; fi
  if ! fo_online "$c"; then pg_status "$c"; return; fi
  if [ "$(fo_sql "$c" "SELECT pg_is_in_recovery()")" = t ]; then
    echo "online, standby ($(fo_sql "$c" "SELECT status FROM pg_stat_wal_receiver"))"
  else
    echo "online, primary (standbys: $(fo_sql "$c" "SELECT string_agg(application_name || ' ' || state || ' ' || sync_state, ', ') FROM pg_stat_replication"))"
  fi
}

# ---------------------------------------------------------------- cluster commands
cluster_status() {
  local i state
  for i in "${CLUSTER_NODES[@]}"; do
    state=down
    if cluster_node_running "$i"; then
      # Each node's own view: in a partition the two sides disagree; a paused node (pause_minority) sees nothing.
      state="online, sees running: $(cluster_ctl "$i" eval 'rabbit_nodes:all_running().' 2>/dev/null | tr -d '\n ' || true)"
      [ "$(cluster_ctl "$i" eval 'rabbit:is_running().' 2>/dev/null)" = true ] || state="online, app stopped (paused?)"
    fi
    printf 'rabbitmq %s (amqp %s, management %s, dist %s): %s\n' "$(cluster_node "$i")" "$(cluster_amqp_port "$i")" \
      "$(cluster_management_port "$i")" "$(cluster_dist_port "$i")" "$state"
  done
  if have iptables && iptables -n -L "$PARTITION_CHAIN" >/dev/null 2>&1; then
    local cut
    cut=$(iptables -S "$PARTITION_CHAIN" 2>/dev/null | grep -o 'eventbackbone-partition-[123]' | sort -u | sed 's/.*-/node /' | tr '\n' ' ' || true)
    printf 'partitions: %s\n' "${cut:-none}"
  fi
  for i in "${FAILOVER_CLUSTERS[@]}"; do
    printf 'postgresql %s (port %s): %s\n' "$i" "$(fo_port "$i")" "$(fo_describe "$i")"
  done
}

cluster_env() {
  local i pg_hosts="Host=127.0.0.1:5441,127.0.0.1:5442;Target Session Attributes=primary;Username=$DB_ROLE;Password=$DB_PASSWORD"
  echo "# EventBackbone settings for the local cluster (eval \"\$(bash scripts/infra.sh cluster env)\"):"
  for i in "${CLUSTER_NODES[@]}"; do echo "export Backbone__RabbitMq__Nodes__$((i - 1))=127.0.0.1:$(cluster_amqp_port "$i")"; done
  echo "export Backbone__Cluster__RabbitMq__Username=$CLUSTER_USER"
  echo "export Backbone__Cluster__RabbitMq__Password=$CLUSTER_PASSWORD"
  for i in "${CLUSTER_NODES[@]}"; do
    echo "export Backbone__Cluster__RabbitMq__NodeNames__$((i - 1))=$(cluster_node "$i")"
    echo "export Backbone__Cluster__RabbitMq__ManagementUrls__$((i - 1))=http://127.0.0.1:$(cluster_management_port "$i")"
  done
  echo "export Backbone__Cluster__Postgres__Clusters__0=$PG_VERSION/failover_a"
  echo "export Backbone__Cluster__Postgres__Clusters__1=$PG_VERSION/failover_b"
  echo "export Backbone__Cluster__Postgres__AdminConnectionString='$pg_hosts;Database=postgres'"
  echo "export Backbone__Cluster__ConnectionStrings__Ingestion='$pg_hosts;Database=backbone_ingestion'"
  echo "export Backbone__Cluster__ConnectionStrings__Workers='$pg_hosts;Database=backbone_workers'"
  echo "export Backbone__Cluster__ConnectionStrings__Sagas='$pg_hosts;Database=backbone_sagas'"
  echo "export Backbone__Cluster__ConnectionStrings__DeadLetters='$pg_hosts;Database=backbone_deadletters'"
}

cluster_main() {
  case "${1:-up}" in
    up)        cluster_rabbit_up; cluster_pg_up; log "the RabbitMQ cluster and the PostgreSQL primary + standby are up"; cluster_env ;;
    down)      cluster_heal; partition_remove_chain; cluster_rabbit_down; cluster_pg_down ;;
    status)    cluster_status ;;
    env)       cluster_env ;;
    promote)   cluster_promote ;;
    partition) cluster_partition "${2:-}" ;;
    heal)      cluster_heal "${2:-}" ;;
    *)         die "usage: bash scripts/infra.sh cluster up|down|status|env|promote|partition N|heal [N]" ;;
  esac
}

case "${1:-up}" in
  up)     rabbit_up; rabbit_faults_up; pg_up; chromium_up; node_up; log "RabbitMQ, PostgreSQL, chromium and Node.js are up"; print_env ;;
  down)   rabbit_down; pg_down ;;
  status) printf 'rabbitmq: %s\nrabbitmq (faults): %s\npostgresql: %s\npostgresql (outage): %s\nchromium: %s\n' "$(rabbit_running && echo online || echo down)" \
            "$(rabbit_faults_running && echo online || echo down)" \
            "$(pg_status || echo missing)" "$(pg_status "$PG_OUTAGE_CLUSTER" || echo missing)" \
            "$([ -x "$CHROMIUM" ] && echo installed || echo missing)" ;;
  env)    print_env ;;
  cluster) shift; cluster_main "$@" ;;
  *)      die "usage: bash scripts/infra.sh up|down|status|env|cluster …" ;;
esac
