"""Out-of-band verification channels (SPEC C, issue 5).

The parts every channel stands on live here and are pure (no ORM session, no network):
``port.py`` (the :class:`VerificationChannel` Protocol), ``assertions.py`` (the signed
assertion a channel's result becomes), ``pseudonym.py`` (the recipient id an assertion
names), ``pin.py`` (callback PINs bound to the document), ``qr.py`` with ``cose.py`` and
``base45.py`` (signed QR codes). ``keys.py`` opens the keys they use.
"""
