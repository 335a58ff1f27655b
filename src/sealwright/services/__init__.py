"""Application services: the use cases, each a unit of work over storage, keys and the ledger."""
