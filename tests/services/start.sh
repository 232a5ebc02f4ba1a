#!/usr/bin/env bash
# Installs and starts what the tests need, idempotently (run it again: it changes nothing):
#   PostgreSQL on 127.0.0.1:5432 (database `test`, user `postgres`, trusted on loopback),
#   Redis on 127.0.0.1:6379, and the Apache Kafka broker's jars (tests/services/kafka/pom.xml)
#   in $KAFKA_CACHE (default ~/.cache/exec-watchdog/kafka-<version>), from which the tests start
#   their own KRaft clusters on free loopback ports; and promtool (Debian's prometheus package) for
#   the alerting rules' unit tests.
# Needs root for apt-get and PostgreSQL's cluster; prints what it does.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

say() { printf 'services: %s\n' "$*"; }

apt_updated=""
need_package() {  # need_package COMMAND-OR-PATH PACKAGE...
  local probe="$1"; shift
  if command -v "$probe" >/dev/null 2>&1 || [ -e "$probe" ]; then return; fi
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -----------------------------------------------------------------------------
need_package pg_ctlcluster postgresql
need_package redis-server redis-server
need_package promtool prometheus  # promtool: the alerting rules' unit tests
version="$(ls /etc/postgresql | sort -V | tail -n1)"
hba="/etc/postgresql/$version/main/pg_hba.conf"
trust="host all postgres 127.0.0.1/32 trust  # exec-watchdog tests"
if ! grep -qF "$trust" "$hba"; then
  say "trusting user postgres on 127.0.0.1 ($hba)"
  { echo "$trust"; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
  chown postgres:postgres "$hba"
  if pg_isready -h 127.0.0.1 -p 5432 -q; then pg_ctlcluster "$version" main reload; fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  say "starting PostgreSQL $version on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
  say "creating database test"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE test"
fi

# --- Redis ----------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- Apache Kafka ---------------------------------------------------------------------------
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")"
cache="${KAFKA_CACHE:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/exec-watchdog/kafka-$kafka_version}"
if [ ! -f "$cache/lib/.complete" ]; then
  need_package mvn maven
  say "resolving Apache Kafka $kafka_version from Maven Central into $cache/lib"
  rm -rf "$cache/lib"
  mkdir -p "$cache"
  mvn -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$cache/lib" > "$cache/maven.log" 2>&1 ||
    { tail -n 40 "$cache/maven.log"; exit 1; }
  touch "$cache/lib/.complete"
fi

pg_isready -h 127.0.0.1 -p 5432 -q
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
say "ready: PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379, Apache Kafka $kafka_version in $cache/lib"
