"""The public ledger API (E5): signed checkpoints and RFC 9162 proofs, no authentication.

Everything here is hashes and signed tree heads: a leaf hash covers an event that holds a
random 128-bit id, so it cannot be inverted, and a proof is a list of tree nodes. Anyone may
therefore fetch them -- a witness, an auditor holding a bundle, a relying party checking
that a bundle's checkpoint is part of the history everyone else sees.

Proofs are only served up to sizes the log has signed: a proof is useful only against a
signed root, and each answer is then fixed forever, so it is cacheable as immutable. Before
answering, the root recomputed from the stored leaves is compared with the signed one; a
log that no longer matches its signature gets a problem, not a proof that leads nowhere.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sealwright.ledger.merkle import MerkleTree
from sealwright.services.runtime import Runtime
from sealwright.web.auth import runtime
from sealwright.web.problems import problem

router = APIRouter(prefix="/v1/log", tags=["ledger"])

RuntimeDep = Annotated[Runtime, Depends(runtime)]
_HEAD_CACHE = "public, max-age=10"
_FIXED_CACHE = "public, max-age=31536000, immutable"
_NOTE_TYPE = "text/plain; charset=utf-8"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _invalid(detail: str) -> JSONResponse:
    return problem(422, "Invalid request", detail, "validation")


def _no_checkpoint(size: int) -> JSONResponse:
    return problem(
        404,
        "Not found",
        f"the log has no signed checkpoint of size {size}; proofs are served for the sizes "
        "of signed checkpoints (GET /v1/log/checkpoint gives the newest)",
        "not-found",
    )


def _signed_tree(rt: Runtime, size: int) -> tuple[list[bytes], MerkleTree] | JSONResponse:
    """The leaf hashes and tree at a signed size, rebuilt from the stored leaves and checked
    against the signed root; a problem response if there is no such checkpoint or no match."""
    with rt.db.transaction() as session:
        signed = rt.checkpoints.at_size(session, size)
        if signed is None:
            return _no_checkpoint(size)
        hashes = rt.audit.leaf_hashes(session, size)
        signed_root = signed.root_hash
    tree = MerkleTree(hashes)
    if tree.size != size or tree.root != signed_root:
        return problem(
            500,
            "Ledger inconsistent",
            f"the stored log does not match its signed checkpoint of size {size}",
            "ledger-inconsistent",
        )
    return hashes, tree


def _json(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": _FIXED_CACHE})


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(rt: RuntimeDep) -> Response:
    """The newest signed checkpoint of the audit log (C2SP signed note)."""
    with rt.db.transaction() as session:
        latest = rt.checkpoints.latest(session) or rt.checkpoints.publish(
            session, require_timestamp=False
        )
        note = latest.note
    return Response(note, media_type=_NOTE_TYPE, headers={"Cache-Control": _HEAD_CACHE})


@router.get(
    "/checkpoints/{size}",
    response_class=PlainTextResponse,
    responses={404: {"description": "no signed checkpoint of that size"}},
)
def checkpoint_at(rt: RuntimeDep, size: int) -> Response:
    """A signed checkpoint of the given tree size, as published then (never changes)."""
    if size < 0:
        return _invalid("size must be a non-negative integer")
    with rt.db.transaction() as session:
        signed = rt.checkpoints.at_size(session, size)
        note = None if signed is None else signed.note
    if note is None:
        return _no_checkpoint(size)
    return Response(note, media_type=_NOTE_TYPE, headers={"Cache-Control": _FIXED_CACHE})


@router.get("/proof/inclusion")
def inclusion_proof(
    rt: RuntimeDep,
    index: Annotated[int, Query(description="leaf index, from 0")],
    tree_size: Annotated[int, Query(description="size of a signed checkpoint")],
) -> JSONResponse:
    """RFC 9162 §2.1.3 inclusion proof of leaf ``index`` in the tree of ``tree_size``.

    ``{"index", "tree_size", "leaf_hash", "proof": [base64 node, ... leaf level first]}``.
    """
    if not 0 <= index < tree_size:
        return _invalid(f"index {index} is not a leaf of a tree of size {tree_size}")
    found = _signed_tree(rt, tree_size)
    if isinstance(found, JSONResponse):
        return found
    hashes, tree = found
    return _json(
        {
            "index": index,
            "tree_size": tree_size,
            "leaf_hash": _b64(hashes[index]),
            "proof": [_b64(h) for h in tree.inclusion_proof(index)],
        }
    )


@router.get("/proof/consistency")
def consistency_proof(
    rt: RuntimeDep,
    first: Annotated[int, Query(description="the older tree size, > 0")],
    second: Annotated[int, Query(description="size of a signed checkpoint, >= first")],
) -> JSONResponse:
    """RFC 9162 §2.1.4 consistency proof from the tree of ``first`` to that of ``second``.

    ``{"first", "second", "proof": [base64 node, ...]}``.
    """
    if first <= 0:
        return _invalid("first must be at least 1: a proof from the empty tree proves nothing")
    if second < first:
        return _invalid(f"second ({second}) must not be smaller than first ({first})")
    found = _signed_tree(rt, second)
    if isinstance(found, JSONResponse):
        return found
    _, tree = found
    return _json(
        {
            "first": first,
            "second": second,
            "proof": [_b64(h) for h in tree.consistency_proof(first)],
        }
    )
