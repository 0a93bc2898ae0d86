"""Non-idempotent Redis commands are never re-sent (real Redis): while the server is blocked by
DEBUG SLEEP, MEMORY PURGE times out on the client; MONITOR shows the server received it once.
(The client's ordinary path re-sends after a connection error; with retry_on_timeout off, redis-py 8
does not re-send after a read timeout — ``send_once`` re-sends after neither.)"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mercenary_maintenance.adapters.redis import bound, send_once
from mercenary_maintenance.config import parse_config


def _count_on_monitor(redis_server: Any, command: str, seconds: float) -> list[int]:
    seen = [0]

    def watch() -> None:
        with redis_server.client().monitor() as m:
            deadline = time.monotonic() + seconds
            for event in m.listen():
                if command in str(event.get("command", "")).upper():
                    seen[0] += 1
                if time.monotonic() > deadline:
                    return

    threading.Thread(target=watch, daemon=True).start()
    time.sleep(0.5)
    return seen


def test_a_timed_out_memory_purge_is_not_sent_again(redis_server: Any) -> None:
    import redis

    timeouts = parse_config({"timeouts": {"redis": {"connect_s": 2, "read_s": 1}}}).timeouts
    client = bound(redis.Redis(host="127.0.0.1", port=redis_server.port), timeouts)
    client.ping()
    seen = _count_on_monitor(redis_server, "MEMORY", 8)
    threading.Thread(target=lambda: redis_server.client().execute_command("DEBUG", "SLEEP", 2.5),
                     daemon=True).start()
    time.sleep(0.3)
    with pytest.raises(redis.exceptions.TimeoutError):
        send_once(client, "MEMORY", "PURGE")
    time.sleep(4)  # the server wakes and works through what it received
    assert seen[0] == 1
    assert client.ping(), "the timed-out connection was dropped, the pool hands out a working one"
