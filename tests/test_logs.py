"""JSON log lines: the time as datetime writes it, extras in order, request id, errors."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.logs import JsonFormatter, configure_logging, log_time, request_id_var


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_the_time_is_what_datetime_writes(created: float) -> None:
    assert log_time(created) == datetime.fromtimestamp(created, UTC).isoformat(
        timespec="milliseconds"
    )


@pytest.mark.parametrize("created", [1e9 + 0.9999995, 1e9 + 0.9999996, 1e9 + 0.0005, 0.0])
def test_the_time_rounds_at_the_edges_as_datetime_does(created: float) -> None:
    assert log_time(created) == datetime.fromtimestamp(created, UTC).isoformat(
        timespec="milliseconds"
    )


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    out = io.StringIO()
    root.handlers[0].setStream(out)  # type: ignore[attr-defined]
    yield out
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_line_carries_its_extras_in_order_and_the_request_id(lines: io.StringIO) -> None:
    token = request_id_var.set("req-1")
    try:
        logging.getLogger("paylive.test").info(
            "%s done", "thing", extra={"payment_id": UUID(int=7), "version": 3, "_hidden": 1}
        )
    finally:
        request_id_var.reset(token)
    entry = json.loads(lines.getvalue())
    assert list(entry) == ["ts", "level", "logger", "msg", "request_id", "payment_id", "version"]
    assert entry["msg"] == "thing done"
    assert entry["level"] == "info"
    assert entry["payment_id"] == str(UUID(int=7))  # not JSON: written as text
    assert entry["request_id"] == "req-1"
    assert datetime.fromisoformat(entry["ts"]).tzinfo is not None


def test_an_exception_is_written_whole(lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("paylive.test").exception("failed")
    entry = json.loads(lines.getvalue())
    assert "ValueError: boom" in entry["exc"]
    assert "request_id" not in entry


def test_the_formatter_alone_formats_a_record() -> None:
    record = logging.makeLogRecord({"msg": "x %d", "args": (1,), "levelname": "WARNING"})
    record.created = 0.25
    entry = json.loads(JsonFormatter().format(record))
    assert entry["ts"] == "1970-01-01T00:00:00.250+00:00"
    assert (entry["msg"], entry["level"]) == ("x 1", "warning")
