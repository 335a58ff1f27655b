#!/usr/bin/env bash
# Start Sealwright on the embedded default: SQLite, local keyring, local TSA, local mail
# capture. First run creates .venv, keys and the database under $SEALWRIGHT_DATA_DIR
# (default ./.sealwright) and prints a ready demo signing link.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/sealwright" serve "$@"
