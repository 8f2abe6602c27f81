"""Items handed from other threads to one thread (or event loop), taken all at once by a single scheduled call.

Why: the worker's consumer thread hands each delivery to the event loop, and the loop hands each ack back to the
connection's thread. A cross-thread wake-up per item (a `call_soon_threadsafe` / `add_callback_threadsafe` each)
cost the receiving side more than handling the item; with a hand-over, however many items arrive before the
receiver runs, it is woken once and takes them all, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Handover(Generic[T]):
    """`put(item, schedule)` from any thread; `take(item)` runs for every item on the receiver, in order."""

    def __init__(self, take: Callable[[T], None]):
        self._take = take
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, item: T, schedule: Callable[[Callable[[], None]], Any]) -> None:
        """Queue `item`; if no wake-up is on its way, ask `schedule` (the receiver's thread-safe call-soon) for one.
        If `schedule` raises (the receiver is gone), the next `put` asks again; the error is the caller's."""
        self._items.append(item)
        with self._lock:
            if self._scheduled:  # a wake-up is on its way and will find this item too
                return
            self._scheduled = True
        try:
            schedule(self._drain)
        except BaseException:
            with self._lock:
                self._scheduled = False
            raise

    def clear(self) -> None:
        """Forget the queued items (their receiver is gone), and any wake-up that may have been lost with it."""
        with self._lock:
            self._items.clear()
            self._scheduled = False

    def _drain(self) -> None:
        with self._lock:  # cleared before taking: an item queued from now on schedules a new wake-up
            self._scheduled = False
        while self._items:
            self._take(self._items.popleft())


__all__ = ["Handover"]
