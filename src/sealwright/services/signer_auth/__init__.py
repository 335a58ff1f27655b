"""Signer authentication methods (B5) and step-up at the moment of signing (B6).

``policy`` says what a recipient must pass; ``base`` is the interface every method module
implements (``email_otp``, ``sms_otp``, ``access_code``, ``totp``, ``passkey``, ``oidc``)
and the recording of passes and failures; ``step_up`` decides whether a signer may sign
now; ``registry`` builds the methods the settings make available. SMS codes travel
through ``sms_gateway`` (the carrier account, or the embedded carrier simulator) as
``sms.send`` jobs run by ``sms_delivery``, which also records the carrier's reports.
"""
