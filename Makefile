# Developer entry points. The virtualenv is made by scripts/bootstrap.sh (scripts/test.sh runs it).
PYTHON ?= .venv/bin/python

.PHONY: test scale-test bench bench-ledger bench-verify

test:
	bash scripts/test.sh

# The scale-out test alone (docs/deployment.md): 3 API processes and 2 workers on one
# PostgreSQL (SEALWRIGHT_TEST_POSTGRES_URL), >= 100 ceremonies, one API process and one
# worker killed midway; prints ceremonies/s and p50/p99 latency. Also part of `make test`.
scale-test:
	$(PYTHON) -m pytest tests/integration/test_scale_out.py -m scale -p no:cacheprovider -s -q

# Throughput of the ledger append path and of the offline verifier (docs/performance.md).
bench: bench-ledger bench-verify

bench-ledger:
	$(PYTHON) bench/ledger.py

bench-verify:
	$(PYTHON) bench/verify.py
