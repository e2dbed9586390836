"""Table locks on both catalogs: a second holder waits and gives up naming the table, a killed holder's lock goes.

The lock is what keeps two syncs from loading one raw file twice (tests/pipeline/test_concurrent_syncs.py runs the
syncs themselves); here it is taken by other processes and threads directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from civiclake.config import load_settings
from civiclake.warehouse.locks import TableBusyError, TableHeldError, TableLocks

TABLE = "bronze.datagouv__lignes__lignes"
# Another process takes the table's lock, says so, and waits to be killed.
HOLDER = """
import sys, threading
from civiclake.warehouse.locks import TableLocks
locks = TableLocks(sys.argv[1], sys.argv[2])
with locks.hold(sys.argv[3]):
    print("held", flush=True)
    threading.Event().wait()
"""


def locks_for(environment: dict[str, str], wait_seconds: float) -> TableLocks:
    settings = load_settings(environ=environment)
    settings.home.mkdir(parents=True, exist_ok=True)
    return TableLocks(settings.catalog_uri, settings.catalog.name, wait_seconds=wait_seconds)


def test_a_holder_that_will_not_wait_is_refused_at_once_even_by_its_own_hold(
    backend_environment: dict[str, str],
) -> None:
    # A sync's batch of records keeps several locks: it must learn, without waiting, that a table is taken, by
    # another run or by itself, so as to commit and release what it holds before it waits.
    locks = locks_for(backend_environment, 60)
    try:
        with locks.hold(TABLE), pytest.raises(TableHeldError, match=TABLE), locks.hold(TABLE, wait=False):
            pass
        with locks.hold(TABLE, wait=False):  # free again
            pass
    finally:
        locks.close()


def test_a_second_holder_waits_then_gives_up_naming_the_table(backend_environment: dict[str, str]) -> None:
    first, second = locks_for(backend_environment, 60), locks_for(backend_environment, 0.5)
    try:
        with first.hold(TABLE):
            busy = rf"{TABLE}: another sync has been loading this table"
            with pytest.raises(TableBusyError, match=busy), second.hold(TABLE):
                pass
            with second.hold("bronze.another_table"):  # other tables are free
                pass
        with second.hold(TABLE):  # released
            pass
    finally:
        first.close()
        second.close()


def test_a_waiting_holder_gets_the_lock_when_the_first_lets_go(backend_environment: dict[str, str]) -> None:
    first, second = locks_for(backend_environment, 60), locks_for(backend_environment, 60)
    order: list[str] = []
    taken = threading.Event()

    def wait_for_it() -> None:
        taken.wait()
        with second.hold(TABLE):
            order.append("second")

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    try:
        with first.hold(TABLE):
            taken.set()
            waiter.join(timeout=1)
            assert waiter.is_alive(), "the second holder waits while the first holds the lock"
            order.append("first")
        waiter.join(timeout=60)
        assert order == ["first", "second"]
    finally:
        first.close()
        second.close()


def test_the_lock_of_a_killed_process_is_released(backend_environment: dict[str, str]) -> None:
    settings = load_settings(environ=backend_environment)
    settings.home.mkdir(parents=True, exist_ok=True)
    arguments = [settings.catalog_uri, settings.catalog.name, TABLE]
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, *arguments], stdout=subprocess.PIPE, text=True, env=os.environ
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        locks = locks_for(backend_environment, 0.5)
        try:
            with pytest.raises(TableBusyError), locks.hold(TABLE):
                pass
            holder.send_signal(signal.SIGKILL)
            assert holder.wait(timeout=30) == -signal.SIGKILL
            locks.wait_seconds = 60  # PostgreSQL ends the dead client's session when its socket closes
            with locks.hold(TABLE):
                pass
        finally:
            locks.close()
