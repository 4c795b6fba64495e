"""Slow clients are cut off: a request's headers and its body must each arrive within a bound.

uvicorn times out only an idle keep-alive connection after a response; a client that opens a
connection and sends its headers or body a byte at a time holds a connection (and, for a body, a
request) for as long as it likes. Twenty of them held a server for a minute. This is uvicorn's h11
protocol with two timers: one from the connection's start (or the last response) until the request's
headers are in, one from there until its body is in. A client past either is disconnected; a request
whose body stops arriving sees the disconnect and ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("gaplens")

Phase = Literal["headers", "body"] | None


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a time bound on receiving a request's headers and on its body."""

    header_seconds: float = 10.0
    body_seconds: float = 120.0
    _phase: Phase = None
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow_reading()

    def handle_events(self) -> None:
        super().handle_events()
        self._follow_reading()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def _follow_reading(self) -> None:
        """Start the bound of what the client must send next: headers, a body, or nothing."""
        if self.transport is None or self.transport.is_closing():
            self._set_phase(None)
            return
        state = self.conn.their_state
        self._set_phase("headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None)

    def _set_phase(self, phase: Phase) -> None:
        if phase == self._phase:
            return
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._phase = phase
        if phase is not None:
            seconds = self.header_seconds if phase == "headers" else self.body_seconds
            self._read_timer = self.loop.call_later(seconds, self._too_slow)

    def _too_slow(self) -> None:
        """The client did not send its request's headers or body in time: disconnect it."""
        self._read_timer = None
        if self.transport is not None and not self.transport.is_closing():
            log.info("closed a connection whose request %s did not arrive in time", self._phase)
            self.transport.close()


def bounded_protocol(header_seconds: float, body_seconds: float) -> type[BoundedH11Protocol]:
    """The protocol class for uvicorn (``http=``), with these bounds."""
    return type(
        "GapLensH11Protocol",
        (BoundedH11Protocol,),
        {"header_seconds": header_seconds, "body_seconds": body_seconds},
    )
