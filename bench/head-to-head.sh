#!/usr/bin/env bash
# The head-to-head in one command: EventBackbone against Wolverine, MassTransit without a database and hand-written
# RabbitMQ.Client code, same machine, same run. Three workloads, one after the other, each printing its own table
# (bench/README.md, "Head-to-head"):
#   1. durable pipeline  Backbone.Bench --head-to-head  raw-rabbitmq, masstransit-nondurable, raw-rabbitmq-outbox,
#                        wolverine-durable, eventbackbone-durable, every one at 16 and at 128 messages in flight; ratios
#                        to eventbackbone-durable at the same level; then (full run only) eventbackbone-durable with
#                        10 million rows in its inbox against an empty one, and the inbox cleanup against its peak
#   2. webhook ingestion Webhooks.Bench under wrk at each concurrency in H2H_WEBHOOK_CONNECTIONS
#   3. signup workflow   Signups.Bench through the real processes
# Usage: bash bench/head-to-head.sh [--smoke]     (--smoke: a few hundred messages per contender; what CI runs)
# Exit code: the first non-zero exit code of a workload (1 lost/duplicated/failed check, 3 server or wrk missing),
# after all three have run, so one failure does not hide the others' figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

smoke=()
case "${1:-}" in
  --smoke) smoke=(--smoke) ;;
  "") ;;
  *) echo "usage: bash bench/head-to-head.sh [--smoke]" >&2; exit 2 ;;
esac

bash scripts/infra.sh up >/dev/null
eval "$(bash scripts/infra.sh env)"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

for project in Backbone.Bench Webhooks.Bench Signups.Bench; do
  dotnet build "bench/$project" -c Release -v quiet -nologo >/dev/null
done

status=0
record() { local code=$1; [ "$status" -ne 0 ] || status=$code; }
stamp() { echo; echo "=== $1 — $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

stamp "1. durable pipeline (Backbone.Bench --head-to-head ${smoke[*]})"
# Both in-flight levels in the smoke too (300 messages each): the pools waiting at 128 are part of what CI covers. The
# 10-million-row prefill (a day's window at ~120 msg/s) takes minutes, so only the full run has it.
if [ ${#smoke[@]} -gt 0 ]; then
  dotnet run -c Release --no-build --project bench/Backbone.Bench -- --head-to-head --smoke --in-flight 16,128 || record $?
else
  dotnet run -c Release --no-build --project bench/Backbone.Bench -- --head-to-head --in-flight 16,128 \
    --prefilled-rows "${H2H_PREFILLED_ROWS:-10000000}" || record $?
fi

# wrk at fixed concurrency levels: the edge's peak and its latency at half of it, per level.
if [ ${#smoke[@]} -gt 0 ]; then connections_levels=${H2H_WEBHOOK_CONNECTIONS:-32}; else connections_levels=${H2H_WEBHOOK_CONNECTIONS:-"8 32"}; fi
for connections in $connections_levels; do
  stamp "2. webhook ingestion (Webhooks.Bench --connections $connections ${smoke[*]})"
  if [ ${#smoke[@]} -gt 0 ]; then
    dotnet run -c Release --no-build --project bench/Webhooks.Bench -- --smoke --connections "$connections" || record $?
  else
    dotnet run -c Release --no-build --project bench/Webhooks.Bench -- --rounds 3 --seconds 10 --connections "$connections" || record $?
  fi
done

stamp "3. signup workflow (Signups.Bench ${smoke[*]})"
dotnet run -c Release --no-build --project bench/Signups.Bench -- "${smoke[@]}" || record $?

stamp "done (exit $status)"
exit "$status"
