"""JSON log lines, one object per line, carrying the request id when there is one."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import math
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# One encoder, made once: ``json.dumps(..., default=str)`` builds a new one per line.
_ENCODE = json.JSONEncoder(default=str).encode


def log_time(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, with
    the date and time of day formatted once per second (every request logs a line)."""
    fraction, whole = math.modf(created)  # rounded to microseconds as datetime does
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return f"{_second_text(second)}.{micros // 1000:03d}+00:00"


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": log_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODE(entry)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # What no line shows is not gathered for each (the logging HOWTO's "Optimization"):
    # the caller's file and line (a stack walk per record), thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # stripe-python writes two INFO lines per API call; our own line per request says
    # what happened, so its lines are kept for DEBUG. Never its DEBUG lines: they hold
    # request and response bodies (client secrets, customers' emails).
    logging.getLogger("stripe").setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)
