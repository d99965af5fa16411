# shellcheck shell=bash
# Provisioning shared by bin/run, bin/test and bin/bench.
#
# Installs what the project needs on a Debian 12 machine, builds the virtual
# environment, and - only when DATABASE_URL / REDIS_URL are not set - starts a
# private PostgreSQL cluster and Redis bound to loopback. Services this script
# did not start are never stopped or reconfigured by it.

set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${GOVERNANCE_STATE_DIR:-$ROOT/.state}
VENV=${GOVERNANCE_VENV:-$ROOT/.venv}
PG_VERSION=15
PG_CLUSTER=${GOVERNANCE_PG_CLUSTER:-governance}
PG_PORT=${GOVERNANCE_PG_PORT:-54329}
REDIS_PORT=${GOVERNANCE_REDIS_PORT:-63790}
DB_NAME=${GOVERNANCE_DB_NAME:-governance}
# Two roles (README "Database roles"): the owner runs migrations and owns the
# databases and tables; the application connects as the runtime role.
DB_OWNER=governance
DB_OWNER_PASSWORD=governance
DB_USER=governance_app
DB_PASSWORD=governance_app
BENCH_DB_NAME=${BENCH_DB_NAME:-governance_bench}

# What this invocation started, so that it stops exactly that on exit.
STARTED_PG=0
STARTED_REDIS=0

APT_PACKAGES=(
    postgresql-15 postgresql-15-postgis-3 postgresql-contrib
    pgbackrest
    redis-server redis-tools
    gdal-bin libgdal32 libgeos-c1v5 libproj25
    gettext curl
    nginx
    chromium fonts-noto-cjk
)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

ensure_system_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ! python3 -c "import ensurepip" >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        log "Installing system packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

ensure_venv() {
    local digest stamp
    digest=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)
    stamp="$VENV/.installed-$digest"
    if [ ! -f "$stamp" ]; then
        log "Building the virtual environment in $VENV"
        [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]"
        rm -f "$VENV"/.installed-*
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

ensure_frontend() {
    # Scripts and styles of the pages: npm packages pinned by package-lock.json,
    # bundled by esbuild into static/build/ (git-ignored). Debian's nodejs and
    # npm when node is missing.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "Installing nodejs and npm from Debian"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends nodejs npm >/dev/null
    fi
    local digest stamp
    digest=$(cat "$ROOT/package.json" "$ROOT/package-lock.json" | sha256sum | cut -c1-16)
    stamp="$ROOT/node_modules/.installed-$digest"
    if [ ! -f "$stamp" ]; then
        log "Installing the front-end packages (npm ci)"
        (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch "$stamp"
    fi
    (cd "$ROOT" && node frontend/build.mjs)
}

pg_cluster_status() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}'
}

start_postgres() {
    if [ -n "${DATABASE_URL:-}" ]; then
        log "Using the configured database (DATABASE_URL)"
        return
    fi
    if [ -z "$(pg_cluster_status)" ]; then
        log "Creating PostgreSQL cluster '$PG_CLUSTER' on 127.0.0.1:$PG_PORT"
        as_root env LC_ALL=C.UTF-8 LANG=C.UTF-8 pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" \
            -o listen_addresses=localhost -o max_connections=200 \
            -o shared_buffers=256MB -o work_mem=16MB \
            -- --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
            >/dev/null
    fi
    if [ "$(pg_cluster_status)" != "online" ]; then
        log "Starting PostgreSQL cluster '$PG_CLUSTER'"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
        STARTED_PG=1
    fi
    # Converges from any earlier layout: the owner was once a superuser, and
    # the runtime role must never be one. Only the owner may switch triggers
    # off for a session, for the benchmarks' bulk loads; it owns the tables
    # and their triggers anyway.
    local sql="DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_OWNER') THEN
            CREATE ROLE $DB_OWNER LOGIN;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
            CREATE ROLE $DB_USER LOGIN;
        END IF; END \$\$;
        ALTER ROLE $DB_OWNER LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS
            PASSWORD '$DB_OWNER_PASSWORD';
        ALTER ROLE $DB_USER LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS
            PASSWORD '$DB_PASSWORD';
        GRANT SET ON PARAMETER session_replication_role TO $DB_OWNER;"
    as_postgres psql -q -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -c "$sql" >/dev/null
    if ! as_postgres psql -p "$PG_PORT" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_postgres createdb -p "$PG_PORT" -O "$DB_OWNER" "$DB_NAME"
    fi
    # Extensions are created here, by the superuser, never by the roles the
    # project connects as: in the database, in the benchmarks' when it exists,
    # and in template1, which test and benchmark databases are created from.
    local db
    for db in "$DB_NAME" "$BENCH_DB_NAME" template1; do
        as_postgres psql -p "$PG_PORT" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 || continue
        as_postgres psql -q -p "$PG_PORT" -d "$db" -v ON_ERROR_STOP=1 \
            -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist;" >/dev/null
    done
    export DATABASE_URL="postgis://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
    export DATABASE_OWNER_URL="postgis://$DB_OWNER:$DB_OWNER_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
}

start_redis() {
    if [ -n "${REDIS_URL:-}" ]; then
        log "Using the configured Redis (REDIS_URL)"
        return
    fi
    mkdir -p "$STATE_DIR/redis"
    if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        log "Starting Redis on 127.0.0.1:$REDIS_PORT"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
            --dir "$STATE_DIR/redis" --pidfile "$STATE_DIR/redis/redis.pid" \
            --logfile "$STATE_DIR/redis/redis.log" --save "" --appendonly no
        local i
        for i in $(seq 50); do
            redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "Redis did not start"
        STARTED_REDIS=1
    fi
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop_started_services() {
    if [ "$STARTED_REDIS" = 1 ]; then
        log "Stopping the Redis this command started"
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        STARTED_REDIS=0
    fi
    if [ "$STARTED_PG" = 1 ]; then
        log "Stopping the PostgreSQL cluster this command started"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast || true
        STARTED_PG=0
    fi
}

compile_messages() {
    # .mo files are build artefacts: compiled from the committed .po files.
    (cd "$ROOT" && python manage.py compilemessages -v 0 --ignore '.venv' --ignore '.state')
}

provision() {
    mkdir -p "$STATE_DIR"
    ensure_system_packages
    ensure_venv
    ensure_frontend
    start_postgres
    start_redis
    compile_messages
}
