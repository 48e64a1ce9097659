"""Intent ids: the key of a decision (strategy, subject, step), read back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polyloly.domain.intents import decision_key, intent_id_for, split_intent_id

_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789x:", min_size=1, max_size=30)


@given(strategy=_NAME, key=_NAME, step=st.integers(0, 10**12))
def test_an_id_splits_into_its_decision_key_and_step(strategy: str, key: str, step: int) -> None:
    assert split_intent_id(intent_id_for(strategy, key, step)) == (
        decision_key(strategy, key),
        step,
    )


def test_ids_not_made_by_intent_id_for_have_no_step() -> None:
    for odd in ("", "nostep", "a:b:", ":7", "a:b:x1", "a:b:-1"):
        assert split_intent_id(odd) is None
