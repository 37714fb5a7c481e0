"""The virtual clock local mode and simulations run on: it moves when told, never backwards, and can run
faster than real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.core.clock import VirtualClock, isoformat, utc

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class FakeRealClock:
    """Real time, moved by the test instead of by the passing seconds."""

    def __init__(self) -> None:
        self.instant = datetime(2000, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant

    def tick(self, seconds: float) -> None:
        self.instant += timedelta(seconds=seconds)


def test_a_stopped_clock_stands_still_while_real_time_passes() -> None:
    # Given a virtual clock with no speed
    real = FakeRealClock()
    clock = VirtualClock(START, real=real)
    # When an hour of real time passes
    real.tick(3600)
    # Then the virtual clock has not moved
    assert clock.now() == START


def test_advance_moves_the_clock_by_exactly_that_much() -> None:
    # Given a stopped virtual clock
    clock = VirtualClock(START, real=FakeRealClock())
    # When it is advanced by 90 minutes
    moved = clock.advance(timedelta(minutes=90))
    # Then it reads 90 minutes later, and says so
    assert moved == clock.now() == START + timedelta(minutes=90)


def test_advance_refuses_to_go_backwards() -> None:
    clock = VirtualClock(START, real=FakeRealClock())
    # When asked to move back a second, Then it refuses and stays put
    with pytest.raises(ValueError, match="never moves backwards"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == START


def test_set_moves_forward_but_never_back() -> None:
    # Given a virtual clock at START
    clock = VirtualClock(START, real=FakeRealClock())
    # When it is set to a later instant, Then it moves there
    later = START + timedelta(days=1)
    assert clock.set(later) == later
    # When it is set to an earlier instant, Then it stays at the later one
    assert clock.set(START) == later
    assert clock.now() == later


def test_the_clock_reads_in_utc_whatever_zone_it_is_given() -> None:
    # Given a start and a target written in Paris time
    paris = ZoneInfo("Europe/Paris")
    clock = VirtualClock(datetime(2026, 3, 2, 11, 0, tzinfo=paris), real=FakeRealClock())
    # Then it reads the same instants in UTC
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=paris)) == START + timedelta(hours=2)
    assert clock.now().tzinfo is UTC


def test_a_naive_start_is_refused() -> None:
    # Given a start without a zone, Then the clock will not guess one
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 3, 2, 10, 0), real=FakeRealClock())


def test_setting_a_naive_instant_is_refused() -> None:
    # Given a virtual clock
    clock = VirtualClock(START, real=FakeRealClock())
    # When it is set to an instant without a zone, Then it refuses rather than guessing the host's zone
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 3, 3, 10, 0))


def test_a_fast_clock_runs_speed_times_real_time() -> None:
    # Given a clock running 60 times faster than real time
    real = FakeRealClock()
    clock = VirtualClock(START, speed=60, real=real)
    # When 30 real seconds pass
    real.tick(30)
    # Then 30 virtual minutes have passed
    assert clock.now() == START + timedelta(minutes=30)


def test_a_fast_clock_keeps_running_from_where_it_was_moved() -> None:
    # Given a clock at speed 10 that ran for 6 real seconds (one virtual minute)
    real = FakeRealClock()
    clock = VirtualClock(START, speed=10, real=real)
    real.tick(6)
    # When it is advanced an hour, and then 6 more real seconds pass
    clock.advance(timedelta(hours=1))
    real.tick(6)
    # Then it reads start + 1 min + 1 h + 1 min
    assert clock.now() == START + timedelta(hours=1, minutes=2)


def test_a_fast_clock_is_not_set_back_to_an_instant_it_already_passed() -> None:
    # Given a clock at speed 100 that has run 10 virtual minutes
    real = FakeRealClock()
    clock = VirtualClock(START, speed=100, real=real)
    real.tick(6)
    # When it is set to 5 minutes after start
    # Then it stays 10 minutes after start
    assert clock.set(START + timedelta(minutes=5)) == START + timedelta(minutes=10)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(min_value=0, max_value=3600)),
        st.tuples(st.just("advance"), st.floats(min_value=0, max_value=86_400)),
        st.tuples(st.just("set"), st.floats(min_value=-86_400, max_value=86_400)),
    ),
    max_size=25,
)


@given(speed=st.sampled_from([0.0, 1.0, 60.0, 3600.0]), ops=operations)
def test_the_clock_never_goes_backwards(speed: float, ops: list[tuple[str, float]]) -> None:
    # Given a virtual clock at any speed, and any mix of real time passing, advances and sets
    real = FakeRealClock()
    clock = VirtualClock(START, speed=speed, real=real)
    last = clock.now()
    for op, seconds in ops:
        if op == "tick":
            real.tick(seconds)
        elif op == "advance":
            clock.advance(timedelta(seconds=seconds))
        else:
            clock.set(last + timedelta(seconds=seconds))
        # Then every reading is at or after the one before
        now = clock.now()
        assert now >= last
        last = now


def test_instants_are_written_sortably_in_utc() -> None:
    # Given an instant in New York time with microseconds
    instant = datetime(2026, 3, 2, 5, 0, 0, 123456, tzinfo=ZoneInfo("America/New_York"))
    # Then it is written in UTC, to the millisecond, with a Z (sortable as a string)
    assert isoformat(instant) == "2026-03-02T10:00:00.123Z"
    # And naive instants are refused rather than guessed
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 3, 2))
