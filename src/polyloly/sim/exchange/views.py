"""CLOB market descriptions: ``/markets[/{cid}]`` (long keys) and ``/clob-markets/{cid}`` (short).

The long form follows the recorded ``clob_market_*`` payloads; the short form is what
py-clob-client-v2's ``get_clob_market_info`` reads (``t`` tokens, ``mts`` tick, ``nr``
neg-risk, ``fd`` fee description ``{r, e, to}``) plus ``c``, ``mos``, ``ao``, ``itode``
(condition id, minimum size, accepting orders, taker-order delay).
"""

from __future__ import annotations

from polyloly.domain.money import to_decimal
from polyloly.sim.exchange.config import Listing
from polyloly.sim.exchange.frames import Json

__all__ = ["clob_market", "clob_market_info", "token_price"]


def _float(micros: int) -> float:
    return float(to_decimal(micros))


def token_price(listing: Listing, token_id: str, mids: dict[str, int]) -> float:
    """A token's display price: 1/0 once resolved, else the mid, else 0.5."""
    if listing.winner is not None:
        return 1.0 if token_id == listing.winner else 0.0
    mid = mids.get(token_id)
    return _float(mid) if mid is not None else 0.5


def clob_market(listing: Listing, mids: dict[str, int]) -> Json:
    """``GET /markets/{condition_id}``: the market in the CLOB's long form."""
    spec = listing.spec
    return {
        "accepting_order_timestamp": spec.game_start_time or None,
        "accepting_orders": listing.accepting_orders,
        "active": not listing.closed,
        "archived": False,
        "closed": listing.closed,
        "condition_id": listing.condition_id,
        "description": spec.question,
        "enable_order_book": True,
        "end_date_iso": spec.end_date or None,
        "fpmm": "",
        "game_start_time": spec.game_start_time or None,
        "icon": "",
        "image": "",
        "is_50_50_outcome": False,
        "maker_base_fee": 0,
        "market_slug": spec.slug,
        "minimum_order_size": _float(spec.min_size),
        "minimum_tick_size": _float(listing.tick),
        "neg_risk": spec.neg_risk,
        "neg_risk_market_id": "",
        "neg_risk_request_id": "",
        "notifications_enabled": True,
        "question": spec.question,
        "question_id": listing.question_id,
        "rewards": {"max_spread": 0, "min_size": 0, "rates": None},
        "seconds_delay": spec.seconds_delay,
        "tags": list(spec.tags),
        "taker_base_fee": 1000 if spec.fee_rate else 0,
        "tokens": [
            {
                "outcome": listing.outcome_of(token),
                "price": token_price(listing, token, mids),
                "token_id": token,
                "winner": listing.winner == token,
            }
            for token in listing.token_ids
        ],
    }


def clob_market_info(listing: Listing) -> Json:
    """``GET /clob-markets/{condition_id}``: the short-key form the client caches."""
    spec = listing.spec
    return {
        "c": listing.condition_id,
        "t": [{"t": token, "o": listing.outcome_of(token)} for token in listing.token_ids],
        "mts": _float(listing.tick),
        "mos": _float(spec.min_size),
        "nr": spec.neg_risk,
        "fd": {"r": _float(spec.fee_rate), "e": spec.fee_exponent, "to": True},
        "mbf": 0,
        "tbf": 1000 if spec.fee_rate else 0,
        "ao": listing.accepting_orders,
        "itode": spec.seconds_delay if listing.live else 0,
    }
