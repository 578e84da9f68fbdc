"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.loopback import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    """Factory: `loopback(replies, latency_s=..., faults=..., usage=...)` -> a running
    LoopbackServer (see tests/loopback.py); every server started is stopped at teardown."""
    servers: list[LoopbackServer] = []

    def start(*args: Any, **kwargs: Any) -> LoopbackServer:
        server = LoopbackServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
