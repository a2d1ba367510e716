"""Logging, set up once per process: structlog for our own events, stdlib loggers routed through it.

JSON lines when stderr is not a terminal (containers, CI), readable console output on a terminal.
aiokafka's and aiohttp's standard-library loggers go through the same processors, so every line
has one format; aiokafka's transient errors are summarised first (`worker.ops.kafka_log`). As a
last line of defence, values under keys that mean a secret are masked, at any depth of a logged
value, by the same rule as events' request copies (`ecsp_contract.redaction.is_secret_key`: case,
separators and small misspellings do not count). A line written while a span is current
(tracing on, `worker.ops.otel`) carries its `trace_id` and `span_id`, in the W3C hex form.
Console lines have the control characters of their keys and text values escaped: a record's key
holding a line break or an ESC sequence cannot forge a line or drive the terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog
from opentelemetry import trace

from ecsp_contract.redaction import MASK, is_secret_key, redact
from worker.ops import kafka_log

#: Keys that are secrets in log lines though not in requests (HTTP headers, IAM tokens).
_LOG_SECRET_KEYS = frozenset({"authorization", "tokenvalue", "xauthtoken", "securitytoken"})


def _mask_secret_keys(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if is_secret_key(key, _LOG_SECRET_KEYS):
            event_dict[key] = MASK
        elif isinstance(value, dict | list | tuple):
            event_dict[key] = redact(value, _LOG_SECRET_KEYS)
    return event_dict


_CONTROL_ESCAPES = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))},
    **{ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"},
    **{code: f"\\u{code:04x}" for code in (0x2028, 0x2029)},
}
"""Control characters (C0, DEL, C1) and the Unicode line separators, as escapes."""


def _escape_control_characters(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Console lines only: keys and text values with their control characters escaped, so a
    value from a record (its key, a header) can neither end the line and forge the next one nor
    send escape sequences to the terminal. (JSON lines escape them by themselves.)"""
    return {
        _escape(key): _escape(value) if isinstance(value, str) else value
        for key, value in event_dict.items()
    }


def _escape(text: str) -> str:
    return text.translate(_CONTROL_ESCAPES)


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Adds `trace_id`/`span_id` of the current span, if there is a valid one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = trace.format_trace_id(context.trace_id)
        event_dict["span_id"] = trace.format_span_id(context.span_id)
    return event_dict


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Configures structlog and the standard library's root logger (idempotent)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        _mask_secret_keys,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    exc_info: Any = structlog.processors.format_exc_info if not use_console else _identity
    escape: Any = _escape_control_characters if use_console else _identity
    formatter = _Formatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exc_info,
            escape,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about routine group membership; keep its warnings, with its
    # transient, retried errors summarised as one WARNING per node and state (kafka_log).
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    kafka_log.install()
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    # No line shows the caller, thread or process: the logging HOWTO's "Optimization" switches.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            exc_info,
            escape,
            renderer,
            _as_rendered_record,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


#: Marks a standard-library record whose message structlog already rendered.
_RENDERED = "ecsp_rendered"


def _as_rendered_record(_logger: Any, _method: str, line: Any) -> tuple[tuple[str], dict[str, Any]]:
    """Our lines are rendered once, in structlog's chain, and handed to the standard library's
    handlers as a finished message (the handlers' formatter passes them through): a third of
    the cost of re-rendering them in a `ProcessorFormatter`, which copies each record."""
    return (line,), {"extra": {_RENDERED: True}}


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """Passes our rendered lines through; renders other libraries' records with our processors."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _RENDERED, False):
            return record.getMessage()
        return super().format(record)


def _identity(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return event_dict
