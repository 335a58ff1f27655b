"""Sealing: from an uploaded PDF to a PAdES-sealed one (see docs/sealing.md).

    intake.py       spool + hash an upload; reject what cannot be sealed (PdfRejected)
    stamp.py        draw completed fields (and the §11.50 manifestation) onto the pages
    certificate.py  render the Certificate of Completion; append it to the document
    pki.py          the local PKI: root CA, document-seal certificate, TSA certificate
    timestamps.py   the TimestampAuthority port: local_tsa (in-process), http_tsa (RFC 3161)
    pades.py        seal_pdf (PAdES B-LT) and validate_sealed_pdf (offline)

Modules are imported individually (``from sealwright.sealing.pades import seal_pdf``): intake
must not pay for importing pyHanko.
"""
