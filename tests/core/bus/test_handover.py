"""Handover: items from many threads reach the receiver once each, in order, with one wake-up per burst."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import pytest

from core.bus.handover import Handover


def test_items_from_many_threads_arrive_once_in_order_with_few_wake_ups() -> None:
    taken: list[tuple[int, int]] = []
    wake_ups: queue.Queue[Callable[[], None]] = queue.Queue()
    handover: Handover[tuple[int, int]] = Handover(taken.append)

    def producer(n: int) -> None:
        for i in range(500):
            handover.put((n, i), wake_ups.put)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    scheduled = 0
    while any(t.is_alive() for t in threads) or not wake_ups.empty():
        try:
            drain = wake_ups.get(timeout=0.01)
        except queue.Empty:
            continue
        scheduled += 1
        drain()  # the receiver's thread (here: this one) runs the scheduled call
    for thread in threads:
        thread.join()
    assert sorted(taken) == [(n, i) for n in range(4) for i in range(500)]
    for n in range(4):
        assert [i for m, i in taken if m == n] == list(range(500)), "each thread's items in its order"
    assert scheduled < len(taken), "one wake-up takes every item queued by then"


def test_a_failed_schedule_is_asked_again_and_clear_drops_what_was_queued() -> None:
    taken: list[str] = []
    handover: Handover[str] = Handover(taken.append)

    def gone(_drain: Callable[[], None]) -> None:
        raise RuntimeError("receiver closed")

    with pytest.raises(RuntimeError):
        handover.put("a", gone)
    calls: list[Callable[[], None]] = []
    handover.put("b", calls.append)  # asks again: the failed wake-up is not "on its way"
    assert len(calls) == 1
    handover.put("c", calls.append)
    assert len(calls) == 1, "a wake-up is already on its way"
    calls[0]()
    assert taken == ["a", "b", "c"]

    handover.put("d", calls.append)
    handover.clear()
    handover.put("e", calls.append)  # clear() also forgets a wake-up lost with the old receiver
    assert len(calls) == 3
    calls[-1]()
    assert taken == ["a", "b", "c", "e"]
