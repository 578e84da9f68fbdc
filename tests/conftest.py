"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.loopback import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    """Factory: `loopback(replies, latency_s=..., faults=..., usage=...)` -> a running
    LoopbackServer (see tests/loopback.py); every server started is stopped at teardown.

    `faults` is a hook `(body, path, seen) -> Fault | None` decided by what a request is (such
    as `Fault.random_rate(0.2, kinds, seed=0)`), or {call_index: Fault} for sequential clients;
    faults include `Fault(status)`, `Fault.hang(s)`, `Fault.reset()` and `Fault.truncated()`."""
    servers: list[LoopbackServer] = []

    def start(*args: Any, **kwargs: Any) -> LoopbackServer:
        server = LoopbackServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
