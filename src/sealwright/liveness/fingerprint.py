"""Perceptual fingerprints of captures, to refuse a replay of an accepted one.

A fingerprint is the 64-bit average hash (8x8 mean threshold) of up to ``FRAMES`` frames
sampled evenly over the capture. Two captures are a near match when, at the best alignment
of one against the other, most frames differ in few bits. A new capture of the same person
in the same room still differs (other motion, other timing, camera noise); a replayed file,
or a re-encoding of it, does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FRAMES = 32
#: Bits (of 64) two frames may differ in and still count as the same picture.
FRAME_BITS = 4
#: Share of aligned frames that must agree for a near match.
MATCH_SHARE = 0.8
#: Frames with movement a fingerprint comparison needs before it can call a match.
MIN_MOVING = 4


def average_hash(gray: npt.NDArray[np.uint8]) -> int:
    """64-bit average hash of a grayscale frame (block means on an 8x8 grid)."""
    h, w = gray.shape
    ys = np.linspace(0, h, 9).astype(int)
    xs = np.linspace(0, w, 9).astype(int)
    cells = np.array(
        [[gray[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean() for j in range(8)] for i in range(8)]
    )
    bits = (cells > cells.mean()).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def fingerprint(frames: Sequence[npt.NDArray[np.uint8]]) -> tuple[int, ...]:
    if not frames:
        return ()
    picks = np.linspace(0, len(frames) - 1, min(FRAMES, len(frames))).astype(int)
    return tuple(average_hash(frames[i]) for i in picks)


def near_match(a: Sequence[int], b: Sequence[int]) -> bool:
    """True when ``a`` and ``b`` are (nearly) the same capture.

    Only *informative* frames count -- those that differ from their capture's first frame,
    i.e. where the person moves -- so that two genuine captures made at rest in the same
    room do not match on their still parts: a replay repeats the movements with their
    timing, which a new performance does not.
    """
    if not a or not b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < MATCH_SHARE * len(long_):
        return False
    moving_s = [(h ^ short[0]).bit_count() > FRAME_BITS for h in short]
    moving_l = [(h ^ long_[0]).bit_count() > FRAME_BITS for h in long_]
    # A trimmed replay is a shifted one: try every offset of the shorter in the longer.
    for offset in range(len(long_) - len(short) + 1):
        counted = agreed = 0
        for i, h in enumerate(short):
            if moving_s[i] or moving_l[offset + i]:
                counted += 1
                agreed += (h ^ long_[offset + i]).bit_count() <= FRAME_BITS
        if counted >= MIN_MOVING and agreed >= MATCH_SHARE * counted:
            return True
    return False


def distinct(frames_hashes: Sequence[int]) -> int:
    """How many different pictures (beyond ``FRAME_BITS``) a fingerprint holds."""
    seen: list[int] = []
    for h in frames_hashes:
        if all((h ^ s).bit_count() > FRAME_BITS for s in seen):
            seen.append(h)
    return len(seen)
