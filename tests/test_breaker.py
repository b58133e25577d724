from __future__ import annotations

from transhades.dispatch.breaker import CLOSED, HALF_OPEN, OPEN, ProviderBreaker


def test_breaker_opens_after_repeated_failures_and_not_before():
    b = ProviderBreaker(failures_to_open=3, break_seconds=30)
    assert b.failed(0.0) is None and b.failed(1.0) is None
    assert b.failed(2.0) == 30
    assert b.state == OPEN and not b.allows(10.0)


def test_half_open_breaker_lets_exactly_one_trial_through():
    b = ProviderBreaker(1, 30)
    b.failed(0.0)
    assert b.allows(30.0) and b.state == HALF_OPEN
    b.sent()
    assert not b.allows(30.1), "a second request waits for the trial's outcome"


def test_successful_trial_closes_the_breaker():
    b = ProviderBreaker(1, 30)
    b.failed(0.0)
    b.allows(30.0)
    b.sent()
    b.succeeded()
    assert b.state == CLOSED and b.failures == 0 and b.allows(30.0)


def test_failed_trial_opens_again_for_twice_as_long_up_to_the_cap():
    b = ProviderBreaker(1, 30, max_break_seconds=100)
    b.failed(0.0)
    lengths = []
    now = 30.0
    for _ in range(3):
        assert b.allows(now)
        b.sent()
        lengths.append(b.failed(now))
        now += lengths[-1]
    assert lengths == [60, 100, 100]


def test_server_given_wait_sets_the_break_at_once():
    b = ProviderBreaker(5, 30)
    assert b.failed(0.0, retry_after=120) == 120
    assert not b.allows(119.9) and b.allows(120.0)
