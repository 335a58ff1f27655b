"""A client of one tlog-witness: submit checkpoints, read back its latest cosigned one.

Nothing the witness says is believed unchecked: a 200 must carry a cosignature by the
configured witness key over exactly the submitted checkpoint, with a non-zero timestamp
not in the future (beyond ``max_clock_skew``); a 409 must carry a well-formed size. Other
witness keys' lines in an answer are ignored, as tlog-witness requires.

Usage from the log side::

    with WitnessClient(url, CosignatureVerifier.from_vkey(vkey), timeout=5) as witness:
        try:
            line = witness.add_checkpoint(old_size, proof, note)
        except OldSizeMismatch as exc:
            ...  # build the proof from exc.witness_size and resend
        note = add_cosignatures(note, [line])
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from sealwright.clock import Clock, SystemClock
from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.checkpoint import Checkpoint
from sealwright.ledger.note import parse_note
from sealwright.witness.cosignature import (
    Cosignature,
    CosignatureVerifier,
    verify_cosignatures,
)
from sealwright.witness.errors import (
    BadWitnessResponse,
    OldSizeMismatch,
    WitnessRefused,
    WitnessUnavailable,
)
from sealwright.witness.protocol import (
    MAX_REQUEST_BYTES,
    SIZE_MEDIA_TYPE,
    AddCheckpointRequest,
    origin_hash,
    parse_cosignature_lines,
    parse_size,
)

__all__ = ["WitnessClient"]

_MAX_ANSWER_BYTES = MAX_REQUEST_BYTES
_MAX_REASON_CHARS = 500


class WitnessClient:
    """One witness at ``url`` (its submission prefix), trusted through ``verifier``.

    ``monitoring_url`` defaults to ``url``. Connections are kept alive between calls (the
    spec asks clients to); use the client as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        verifier: CosignatureVerifier,
        *,
        timeout: float = 10.0,
        monitoring_url: str | None = None,
        clock: Clock | None = None,
        max_clock_skew: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._monitoring_url = (monitoring_url or url).rstrip("/")
        self._verifier = verifier
        self._clock = clock or SystemClock()
        self._max_skew = max_clock_skew
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)

    @property
    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WitnessClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> str:
        """Submit the signed checkpoint ``note`` with the consistency proof from
        ``old_size``; returns this witness's verified cosignature line (with its newline).

        Raises :class:`OldSizeMismatch` (``.witness_size``) on 409, :class:`WitnessRefused`
        on any other refusal, :class:`WitnessUnavailable` if there is no usable answer, and
        :class:`BadWitnessResponse` if the answer breaks the protocol or does not verify.
        """
        request = AddCheckpointRequest(old_size, tuple(proof), note)
        try:
            body = parse_note(note).text
            checkpoint = Checkpoint.from_body(body)
        except ProofError as exc:
            raise ValidationError(f"not a signed checkpoint: {exc}") from exc
        status, headers, answer = self._exchange(
            "POST",
            f"{self._url}/add-checkpoint",
            content=request.to_body(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if status == 200:
            return self._cosignature_from(answer, body, checkpoint).to_line()
        if status == 409:
            if _media_type(headers.get("content-type", "")) != SIZE_MEDIA_TYPE:
                raise BadWitnessResponse(f"409 answer is not {SIZE_MEDIA_TYPE}")
            raise OldSizeMismatch(parse_size(answer))
        raise self._error(status, answer)

    def latest(self, origin: str) -> str | None:
        """The witness's latest cosigned checkpoint note for ``origin``, or ``None`` if it
        never cosigned one (tlog-witness monitoring endpoint).

        Verified here: the origin line, and this witness's cosignature on it. The log's
        signature is *not* checked -- the caller holds the log keys: pass the note to
        :func:`sealwright.witness.cosignature.open_cosigned_checkpoint`.
        """
        status, _, answer = self._exchange(
            "GET", f"{self._monitoring_url}/{origin_hash(origin)}/checkpoint"
        )
        if status == 404:
            return None
        if status != 200:
            raise self._error(status, answer)
        try:
            note = answer.decode("utf-8")
            checkpoint = Checkpoint.from_body(parse_note(note).text)
            cosignatures = verify_cosignatures(note, [self._verifier])
        except (UnicodeDecodeError, ProofError) as exc:
            raise BadWitnessResponse(f"latest checkpoint of {origin!r}: {exc}") from exc
        if checkpoint.origin != origin:
            raise BadWitnessResponse(f"asked for {origin!r}, got {checkpoint.origin!r}")
        if not cosignatures:
            raise BadWitnessResponse(
                f"latest checkpoint of {origin!r} lacks this witness's cosignature"
            )
        return note

    def _cosignature_from(self, answer: bytes, body: str, checkpoint: Checkpoint) -> Cosignature:
        mine = [
            sig
            for sig in parse_cosignature_lines(answer)
            if self._verifier.matches(sig.name, sig.key_id)
        ]
        if not mine:
            raise BadWitnessResponse(
                f"no cosignature by {self._verifier.name}+{self._verifier.key_id.hex()} "
                f"in the answer for {checkpoint.origin!r} size {checkpoint.size}"
            )
        try:
            cosigs = [self._verifier.verify(body, Cosignature.from_note_signature(s)) for s in mine]
        except ProofError as exc:
            raise BadWitnessResponse(f"witness cosignature does not verify: {exc}") from exc
        cosig = max(cosigs, key=lambda c: c.timestamp)
        if cosig.timestamp == 0:
            raise BadWitnessResponse("witness cosignature has no timestamp")
        if cosig.timestamp > self._clock.now().timestamp() + self._max_skew:
            raise BadWitnessResponse(
                f"witness cosignature is dated in the future ({cosig.timestamp})"
            )
        return cosig

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, httpx.Headers, bytes]:
        try:
            with self._http.stream(method, url, content=content, headers=headers) as response:
                chunks, total = [], 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > _MAX_ANSWER_BYTES:
                        raise BadWitnessResponse(f"answer from {url} is too large")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except httpx.HTTPError as exc:
            raise WitnessUnavailable(f"witness at {url}: {exc}") from exc

    @staticmethod
    def _error(status: int, answer: bytes) -> Exception:
        reason = answer.decode("utf-8", errors="replace").strip()[:_MAX_REASON_CHARS]
        if 400 <= status < 500:
            return WitnessRefused(status, reason or "no reason given")
        if status >= 500:
            return WitnessUnavailable(f"witness answered {status}: {reason}")
        return BadWitnessResponse(f"unexpected status {status}")


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()
