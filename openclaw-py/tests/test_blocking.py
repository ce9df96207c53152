"""Blocking calls: Ctrl-C interrupts them, and they let other Python threads run."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import List

import pytest

import openclaw
from conftest import S, unique


def interrupt_after(seconds: float) -> threading.Timer:
    """SIGINT to this process (as Ctrl-C sends) after ``seconds``."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.daemon = True
    timer.start()
    return timer


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread only"
)
def test_ctrl_c_interrupts_a_wait(provisioner: openclaw.Provisioner) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    inst = provisioner.create(unique("c"), unique("ctrlc"), "starter", "eu-west")
    started = time.monotonic()
    timer = interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            provisioner.wait(inst.id, "active", timeout=30)
    finally:
        timer.cancel()
    took = time.monotonic() - started
    assert 0.3 <= took < 1.5, took
    # The provisioner still works: the interrupted wait left nothing behind.
    assert provisioner.get(inst.id).status is S.PENDING
    provisioner.run_workers()
    assert provisioner.wait(inst.id, "active", timeout=30).status is S.ACTIVE


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread only"
)
def test_ctrl_c_interrupts_following_events(provisioner: openclaw.Provisioner) -> None:
    iterator = provisioner.events(after=0, follow=True)
    started = time.monotonic()
    timer = interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            next(iterator)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.5
    inst = provisioner.create(unique("c"), unique("after"), "starter", "eu-west")
    assert [e.instance_id for e in provisioner.events(after=0, follow=False)] == [inst.id]


def test_a_wait_releases_the_gil(provisioner: openclaw.Provisioner) -> None:
    inst = provisioner.create(unique("c"), unique("gil"), "starter", "eu-west")
    counter: List[int] = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        time.sleep(0.5)
        idle = counter[0] - before  # what it counts in half a second with nothing else
        before = counter[0]
        with pytest.raises(openclaw.Timeout):
            provisioner.wait(inst.id, "active", timeout=0.5)
        during = counter[0] - before
    finally:
        stop.set()
        thread.join(timeout=5)
    # With the GIL held by the wait the loop would barely move (only the 100 ms signal
    # checks could hand it over, a few per cent); released, it counts about as when idle.
    assert idle > 10_000, idle
    assert during > idle // 4, (during, idle)


def test_blocking_calls_from_many_threads(provisioner: openclaw.Provisioner) -> None:
    provisioner.run_workers()
    customer = unique("threads")
    results: List[openclaw.Instance] = []
    errors: List[BaseException] = []
    lock = threading.Lock()

    def life() -> None:
        try:
            inst = provisioner.create(customer, unique("t"), "starter", "eu-west")
            done = provisioner.wait(inst.id, "active", timeout=60)
            with lock:
                results.append(done)
        except BaseException as error:
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=life) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(results) == 8 and all(i.status is S.ACTIVE for i in results)
    assert len(provisioner.list(customer_id=customer, status="active")) == 8
