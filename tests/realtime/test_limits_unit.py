"""The slot counting behind the connection caps, without sockets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.realtime.limits import Admission, ConnectionLimits


def test_caps_and_release() -> None:
    limits = ConnectionLimits.of(per_token=2, per_address=3)
    held = [Admission(limits) for _ in range(4)]
    assert [a.take_address("10.0.0.1") for a in held] == [True, True, True, False]
    assert [a.take_token("t") for a in held[:3]] == [True, True, False]
    assert held[0].take_token("t")  # a connection counts once per credential
    for admission in held:
        admission.release()
        admission.release()  # idempotent
    assert not limits.by_token.held
    assert not limits.by_address.held


@given(st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), max_size=40))
def test_counts_never_drift(steps: list[tuple[str, bool]]) -> None:
    limits = ConnectionLimits.of(per_token=3, per_address=5)
    open_: list[Admission] = []
    for name, opening in steps:
        if opening:
            admission = Admission(limits)
            if admission.take_address(name):
                admission.take_token(name)
                open_.append(admission)
        elif open_:
            open_.pop(0).release()
        assert all(0 < n <= 3 for n in limits.by_token.held.values())
        assert all(0 < n <= 5 for n in limits.by_address.held.values())
    for admission in open_:
        admission.release()
    assert not limits.by_token.held
    assert not limits.by_address.held
