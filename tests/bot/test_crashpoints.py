"""Test-only crash points: armed by one environment variable, fired at the n-th order."""

from __future__ import annotations

import pytest

from polyloly.bot.crashpoints import CRASH_ENV, CrashPoint, CrashPoints
from polyloly.runtime.errors import ConfigError


def test_nothing_is_armed_without_the_variable() -> None:
    assert CrashPoints.from_env({}) is None
    assert CrashPoints.from_env({CRASH_ENV: " "}) is None


@pytest.mark.parametrize(
    ("raw", "point", "nth"),
    [
        ("before_post", CrashPoint.BEFORE_POST, 1),
        ("after_post:3", CrashPoint.AFTER_POST, 3),
        ("after_reply:1", CrashPoint.AFTER_REPLY, 1),
    ],
)
def test_the_variable_names_a_point_and_an_order(raw: str, point: CrashPoint, nth: int) -> None:
    armed = CrashPoints.from_env({CRASH_ENV: raw})
    assert armed is not None
    assert (armed.point, armed.nth) == (point, nth)


@pytest.mark.parametrize("raw", ["somewhere", "after_post:x", "after_post:0"])
def test_a_bad_value_is_a_config_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=CRASH_ENV):
        CrashPoints.from_env({CRASH_ENV: raw})
