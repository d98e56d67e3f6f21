"""What an attempt's answer means, over every schedule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.notifications.schedule import after_attempt

schedules = st.lists(st.floats(min_value=0, max_value=1e5), max_size=10)


@given(schedules, st.integers(min_value=200, max_value=299))
def test_2xx_is_delivered_whenever(schedule: list[float], status: int) -> None:
    for attempts in range(1, len(schedule) + 3):
        assert after_attempt(status, attempts, schedule).verdict == "delivered"


@given(schedules, st.sampled_from([None, 301, 400, 404, 429, 500, 503]))
def test_failures_follow_the_schedule_then_fail(schedule: list[float], status: int | None) -> None:
    outcomes = [after_attempt(status, n, schedule) for n in range(1, len(schedule) + 2)]
    assert [o.verdict for o in outcomes] == ["retry"] * len(schedule) + ["failed"]
    assert [o.retry_in for o in outcomes[:-1]] == schedule


@given(schedules, st.integers(min_value=1, max_value=50))
def test_410_always_disables_the_endpoint(schedule: list[float], attempts: int) -> None:
    assert after_attempt(410, attempts, schedule).verdict == "endpoint_gone"
