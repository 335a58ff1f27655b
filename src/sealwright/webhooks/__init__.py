"""Standard Webhooks (G2): the pure parts -- keys, signing, verification, payloads, event
filters, the retry policy and the SSRF rules for target URLs.

Nothing here touches a database or the network: ``services/webhooks/`` stores endpoints
and deliveries and sends them; integrators can use :mod:`sealwright.webhooks.verify` (with
:mod:`sealwright.webhooks.keys`) to check what they receive. The format is specified in
``docs/webhooks.md``.
"""
