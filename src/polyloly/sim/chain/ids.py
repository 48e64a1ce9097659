"""Conditional Tokens ids computed off-chain, exactly as the CTF computes them (CTHelpers).

condition id = keccak256(oracle ‖ questionId ‖ outcomeSlotCount); collection id = the
alt_bn128 point hash of (conditionId, indexSet); position (token) id =
keccak256(collateralToken ‖ collectionId). Lets the exchange simulator list a market under
its on-chain ids before the condition is prepared. Checked against the deployed contract's
own ``getPositionId`` by the tests.
"""

from __future__ import annotations

from typing import Final

from eth_utils.conversions import to_bytes
from eth_utils.crypto import keccak

__all__ = ["collection_id", "condition_id", "position_id"]

_P: Final = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def condition_id(oracle: str, question_id: bytes, outcome_slot_count: int = 2) -> bytes:
    """keccak256(abi.encodePacked(oracle, questionId, outcomeSlotCount))."""
    return keccak(to_bytes(hexstr=oracle) + question_id + outcome_slot_count.to_bytes(32, "big"))


def collection_id(condition: bytes, index_set: int) -> bytes:
    """The top-level collection id of ``index_set`` (CTHelpers.getCollectionId, parent 0)."""
    x1 = int.from_bytes(keccak(condition + index_set.to_bytes(32, "big")), "big")
    odd = x1 >> 255 != 0
    while True:
        x1 = (x1 + 1) % _P
        yy = (x1 * x1 * x1 + 3) % _P
        y1 = pow(yy, (_P + 1) // 4, _P)
        if y1 * y1 % _P == yy:
            break
    if (odd and y1 % 2 == 0) or (not odd and y1 % 2 == 1):
        y1 = _P - y1
    if y1 % 2 == 1:
        x1 ^= 1 << 254
    return x1.to_bytes(32, "big")


def position_id(collateral: str, collection: bytes) -> int:
    """keccak256(abi.encodePacked(collateralToken, collectionId)) as an integer."""
    return int.from_bytes(keccak(to_bytes(hexstr=collateral) + collection), "big")
