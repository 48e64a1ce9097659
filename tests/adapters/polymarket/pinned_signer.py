"""One wallet, token and clock for the signing tests: the golden values were made with these."""

from __future__ import annotations

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.signing import OrderSigner

KEY = "0x" + "4c" * 32
FUNDER = "0x" + "ab" * 20
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NOW_MS = 1_795_577_955_778
SALT = 1_464_848_247_546


def pinned_signer(sig_type: SignatureType, salt: int = SALT) -> OrderSigner:
    """The signer for ``KEY`` (its ``FUNDER`` for non-EOA wallets), with time and salt fixed."""
    return OrderSigner(
        KEY,
        137,
        signature_type=sig_type,
        funder=None if sig_type is SignatureType.EOA else FUNDER,
        now_ms=lambda: NOW_MS,
        salt=lambda: salt,
    )
