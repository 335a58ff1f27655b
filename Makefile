# Developer entry points. The virtualenv is made by scripts/bootstrap.sh (scripts/test.sh runs it).
PYTHON ?= .venv/bin/python

.PHONY: test bench bench-ledger bench-verify

test:
	bash scripts/test.sh

# Throughput of the ledger append path and of the offline verifier (docs/performance.md).
bench: bench-ledger bench-verify

bench-ledger:
	$(PYTHON) bench/ledger.py

bench-verify:
	$(PYTHON) bench/verify.py
