"""Balances, reservations and allowances of every address on the local exchange.

An address holds pUSD (``"collateral"``) and outcome tokens (by token id), all in
micro-units. Placing an order reserves what it could spend (pUSD for a BUY, tokens for a
SELL); a fill moves the real amounts and shrinks the reservation; a cancel releases it.
Fees collected from takers accumulate in :attr:`Accounts.fees_collected`, so the books
always balance: pUSD + fees + (pUSD locked in token pairs) is constant.

Failed trades are reversed exactly (:meth:`Accounts.apply_fill` with ``reverse=True``),
even when that drives a balance negative: that is what a voided on-chain fill does to a
trader who already spent its proceeds (the "ghost fill" pitfall).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from polyloly.domain.events import Side
from polyloly.domain.matching import Fill, FillKind
from polyloly.domain.money import Rounding, cost_of

__all__ = ["COLLATERAL", "Accounts", "Reservation"]

COLLATERAL = "collateral"
"""The asset key of pUSD in balance maps (outcome tokens use their token id)."""


@dataclass(slots=True)
class Reservation:
    """What a resting order holds back: ``amount`` micros of ``asset`` at ``address``."""

    address: str
    asset: str
    amount: int


def _key(address: str) -> str:
    return address.lower()


BalanceObserver = Callable[[str, str, int, str], object]
"""Told of every balance change: (address, asset, amount, ``deposit`` | ``move``)."""


class Accounts:
    """Every address's balances, reservations and allowances (all micro-units)."""

    def __init__(self, starting_balance: int, starting_allowance: int) -> None:
        self.starting_balance = starting_balance
        self.starting_allowance = starting_allowance
        self._balances: dict[str, defaultdict[str, int]] = {}
        self._reserved: dict[str, defaultdict[str, int]] = {}
        self._allowance: dict[str, dict[str, int]] = {}
        self._orders: dict[str, Reservation] = {}
        self.fees_collected = 0
        self.deposited = 0  # pUSD ever credited from outside (starting balances, deposits)
        self.observer: BalanceObserver | None = None  # a local chain mirroring the ledger

    # -- addresses --------------------------------------------------------------------------

    def known(self, address: str) -> bool:
        """Whether the address has been funded already."""
        return _key(address) in self._balances

    def open(self, address: str, balance: int | None = None) -> bool:
        """Fund a new address with the starting balance (or ``balance``); False if known."""
        key = _key(address)
        if key in self._balances:
            return False
        self._balances[key] = defaultdict(int)
        self._reserved[key] = defaultdict(int)
        initial = self.starting_balance if balance is None else balance
        self._balances[key][COLLATERAL] = initial
        self.deposited += initial
        self._allowance[key] = {
            "COLLATERAL": self.starting_allowance,
            "CONDITIONAL": self.starting_allowance,
        }
        if self.observer is not None:
            self.observer(address, COLLATERAL, initial, "deposit")
        return True

    def balances(self, address: str) -> dict[str, int]:
        """All non-zero balances of ``address`` (``"collateral"`` and token ids)."""
        self.open(address)
        return {k: v for k, v in self._balances[_key(address)].items() if v or k == COLLATERAL}

    def balance(self, address: str, asset: str) -> int:
        """One balance."""
        self.open(address)
        return self._balances[_key(address)][asset]

    def reserved(self, address: str, asset: str) -> int:
        """What open orders hold back of one asset."""
        self.open(address)
        return self._reserved[_key(address)][asset]

    def available(self, address: str, asset: str) -> int:
        """Balance less reservations."""
        return self.balance(address, asset) - self.reserved(address, asset)

    def allowance(self, address: str, asset_type: str) -> int:
        """The approval for ``"COLLATERAL"`` or ``"CONDITIONAL"`` assets."""
        self.open(address)
        return self._allowance[_key(address)][asset_type]

    def set_allowance(self, address: str, asset_type: str, amount: int) -> None:
        """Set an approval (an on-chain ``approve`` / ``setApprovalForAll``)."""
        self.open(address)
        self._allowance[_key(address)][asset_type] = amount

    def deposit(self, address: str, amount: int) -> None:
        """Credit pUSD from outside the exchange (a deposit)."""
        self.credit(address, COLLATERAL, amount, "deposit")
        self.deposited += amount

    def credit(self, address: str, asset: str, amount: int, kind: str = "move") -> None:
        """Add (or, negative, remove) ``amount`` of ``asset``: deposits and test set-up.

        ``kind`` tells an observer (the local chain) a ``deposit`` from outside from a
        ``move`` between accounts.
        """
        self.open(address)
        self._balances[_key(address)][asset] += amount
        if self.observer is not None and amount:
            self.observer(address, asset, amount, kind)

    # -- reservations -----------------------------------------------------------------------

    def can_reserve(self, address: str, asset: str, amount: int) -> bool:
        """Whether ``amount`` is free and approved."""
        kind = "COLLATERAL" if asset == "collateral" else "CONDITIONAL"
        return self.available(address, asset) >= amount and self.allowance(address, kind) >= amount

    def reserve(self, order_id: str, address: str, asset: str, amount: int) -> None:
        """Hold back ``amount`` for an order (replacing what it held before)."""
        self.release(order_id)
        self.open(address)
        self._reserved[_key(address)][asset] += amount
        self._orders[order_id] = Reservation(_key(address), asset, amount)

    def release(self, order_id: str) -> None:
        """Drop an order's reservation."""
        held = self._orders.pop(order_id, None)
        if held is not None:
            self._reserved[held.address][held.asset] -= held.amount

    def reserve_for(
        self, order_id: str, address: str, *, token_id: str, side: Side, price: int, remaining: int
    ) -> None:
        """Reserve what a resting order of ``remaining`` shares at ``price`` can spend."""
        if remaining <= 0:
            self.release(order_id)
        elif side is Side.BUY:
            self.reserve(order_id, address, COLLATERAL, cost_of(remaining, price, Rounding.UP))
        else:
            self.reserve(order_id, address, token_id, remaining)

    def reservation(self, order_id: str) -> Reservation | None:
        """What an order holds back, if anything."""
        return self._orders.get(order_id)

    # -- settlement -------------------------------------------------------------------------

    def apply_fill(self, fill: Fill, *, reverse: bool = False) -> None:
        """Move pUSD and tokens for one fill (or undo it exactly)."""
        sign = -1 if reverse else 1
        taker, maker = fill.taker_address, fill.maker_address
        size = fill.size
        if fill.taker_side is Side.BUY:
            self.credit(taker, COLLATERAL, -sign * (fill.taker_cash + fill.fee))
            self.credit(taker, fill.taker_token, sign * size)
        else:
            self.credit(taker, COLLATERAL, sign * (fill.taker_cash - fill.fee))
            self.credit(taker, fill.taker_token, -sign * size)
        if fill.kind is FillKind.COMPLEMENTARY:
            cash = fill.maker_cash if fill.maker_side is Side.SELL else -fill.maker_cash
            self.credit(maker, COLLATERAL, sign * cash)
            delta = -size if fill.maker_side is Side.SELL else size
            self.credit(maker, fill.maker_token, sign * delta)
        elif fill.kind is FillKind.MINT:
            self.credit(maker, COLLATERAL, -sign * fill.maker_cash)
            self.credit(maker, fill.maker_token, sign * size)
        else:  # MERGE
            self.credit(maker, COLLATERAL, sign * fill.maker_cash)
            self.credit(maker, fill.maker_token, -sign * size)
        self.fees_collected += sign * fill.fee

    def split(self, address: str, token_a: str, token_b: str, size: int) -> None:
        """Turn ``size`` pUSD into ``size`` of each token (CTF ``splitPosition``)."""
        self.credit(address, COLLATERAL, -size)
        self.credit(address, token_a, size)
        self.credit(address, token_b, size)

    def merge(self, address: str, token_a: str, token_b: str, size: int) -> bool:
        """Turn ``size`` of each token back into pUSD; False if the free pairs are short."""
        if min(self.available(address, token_a), self.available(address, token_b)) < size:
            return False
        self.credit(address, token_a, -size)
        self.credit(address, token_b, -size)
        self.credit(address, COLLATERAL, size)
        return True

    def redeem(self, address: str, winning: str, losing: str) -> int:
        """Burn both tokens of a resolved market; pay 1 pUSD per winning share."""
        won = max(0, self.balance(address, winning) - self.reserved(address, winning))
        lost = max(0, self.balance(address, losing) - self.reserved(address, losing))
        self.credit(address, winning, -won)
        self.credit(address, losing, -lost)
        self.credit(address, COLLATERAL, won)
        return won

    def totals(self) -> dict[str, int]:
        """Sum of every asset over every address (for conservation checks)."""
        out: defaultdict[str, int] = defaultdict(int)
        for held in self._balances.values():
            for asset, amount in held.items():
                out[asset] += amount
        return dict(out)
