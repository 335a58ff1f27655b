"""Webhooks (G2): endpoints (``endpoints.py``), the outbox written with each ledger event
(``outbox.py``), deliveries and dead letters (``deliveries.py``), and the dispatcher that
sends them from the durable job queue (``dispatch.py``, ``sender.py``)."""
