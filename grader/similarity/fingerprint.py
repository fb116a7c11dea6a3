"""Fingerprints of a normalised token stream: every run of K consecutive tokens, hashed.

The functions of these assignments are short (a sigmoid is a dozen tokens, a two-layer network
a few hundred), so every k-gram is kept rather than a winnowed sample: winnowing's guarantee
(any shared run of w+k-1 tokens is seen) costs most of the evidence in a ten-line function.
Hashes are stable across processes and runs (no ``PYTHONHASHSEED`` dependence), so fingerprints
computed in worker processes can be compared in the parent.
"""

from __future__ import annotations

import hashlib

from grader.similarity.normalise import Token

K = 8
_token_ids: dict[str, int] = {}


def _token_id(text: str) -> int:
    found = _token_ids.get(text)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                               digest_size=8).digest(), "little")
        _token_ids[text] = found
    return found


def fingerprints(tokens: list[Token], salt: int = 0, k: int = K) -> dict[int, tuple[int, int]]:
    """Fingerprint -> (first line, last line) of the passage it covers (the first occurrence).
    ``salt`` keeps the fingerprints of different problems apart. A stream shorter than ``k``
    is one fingerprint."""
    ids = [_token_id(t.text) for t in tokens]
    found: dict[int, tuple[int, int]] = {}
    if not ids:
        return found
    width = min(k, len(ids))
    for start in range(len(ids) - width + 1):
        # hash() of a tuple of ints is deterministic in CPython (only str/bytes are salted).
        value = hash((salt, *ids[start:start + width]))
        if value not in found:
            lines = [t.line for t in tokens[start:start + width]]
            found[value] = (min(lines), max(lines))
    return found
