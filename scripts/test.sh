#!/usr/bin/env bash
# Run the whole test suite: installs what it needs (Debian packages chromium, poppler-utils,
# nodejs and npm when run as root, Python deps into .venv, the test OIDC provider's
# node_modules), makes sure PostgreSQL is up, then runs ruff, mypy and pytest. Extra
# arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdfsig >/dev/null 2>&1 || need+=(poppler-utils)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
command -v pg_isready >/dev/null 2>&1 || need+=(postgresql)
# The OIDC tests run a real provider (tests/support/oidc_provider) on Node.js.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}: install them (sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

bash "$ROOT/scripts/bootstrap.sh" dev
# The provider's dependencies, exactly as locked, when missing or older than the lock file.
OIDC="$ROOT/tests/support/oidc_provider"
if [ ! -f "$OIDC/node_modules/.package-lock.json" ] \
   || [ "$OIDC/package-lock.json" -nt "$OIDC/node_modules/.package-lock.json" ]; then
  echo "installing the test OIDC provider (npm ci)"
  (cd "$OIDC" && npm ci --no-audit --no-fund --loglevel=error)
fi
V="$ROOT/.venv/bin"
"$V/ruff" check src tests
"$V/mypy"
# pytest exits 5 when it collects nothing; that is a failure here, like any other non-zero.
"$V/pytest" "$@"
