#!/usr/bin/env bash
# Creates each host's broker user with the permissions service-accounts.conf gives it (compose: the one-shot service
# rabbitmq-accounts, run before any host starts). Idempotent: a second run resets the same passwords, tags and
# permissions. For another broker (Kubernetes), run it with the same variables against that broker's management API:
#
#   RABBITMQ_MANAGEMENT_HOST=… RABBITMQ_MANAGEMENT_PORT=15672 RABBITMQ_ADMIN_USER=… RABBITMQ_ADMIN_PASSWORD=… \
#   RABBITMQ_VHOST=/ WORKERS_RABBITMQ_USER=… WORKERS_RABBITMQ_PASSWORD=… … bash service-accounts.sh
#
# Needs rabbitmqadmin (in the rabbitmq:*-management images; otherwise the management plugin serves it at /cli/).
set -euo pipefail

conf="${SERVICE_ACCOUNTS_CONF:-$(dirname "$0")/service-accounts.conf}"
admin=(rabbitmqadmin --host="${RABBITMQ_MANAGEMENT_HOST:-rabbitmq}" --port="${RABBITMQ_MANAGEMENT_PORT:-15672}"
  --username="$RABBITMQ_ADMIN_USER" --password="$RABBITMQ_ADMIN_PASSWORD")
vhost="${RABBITMQ_VHOST:-/}"

# The broker's health check passes once AMQP listens; the management API may answer a little later. Bounded: 60 s.
for attempt in $(seq 1 30); do
  if "${admin[@]}" list vhosts name >/dev/null 2>&1; then break; fi
  [ "$attempt" -lt 30 ] || { echo "service-accounts: the management API did not answer within 60 s" >&2; exit 1; }
  sleep 2
done

while read -r service tags configure write read; do
  case "$service" in ''|'#'*) continue ;; esac
  prefix=$(printf '%s' "$service" | tr 'a-z-' 'A-Z_')
  user_variable="${prefix}_RABBITMQ_USER" password_variable="${prefix}_RABBITMQ_PASSWORD"
  user="${!user_variable:?$user_variable is not set}"
  password="${!password_variable:?$password_variable is not set}"
  [ "$tags" = "-" ] && tags=""
  "${admin[@]}" declare user name="$user" password="$password" tags="$tags" >/dev/null
  "${admin[@]}" declare permission vhost="$vhost" user="$user" configure="$configure" write="$write" read="$read" >/dev/null
  echo "service-accounts: $service signs in as $user (tags: ${tags:-none})"
done < "$conf"
