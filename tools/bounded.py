"""One call on untrusted input in a child process that can neither exhaust the server nor outlive its limits.

Each call runs in a fresh child forked from multiprocessing's fork server, which has the parser modules
imported already: a child starts in milliseconds, shares no thread or lock with the server, and takes its
memory with it when it ends. The child caps its own address space (RLIMIT_AS) and CPU time and arms an alarm;
the parent waits at most the wall-clock limit and kills the child when it passes, or when the waiting task is
cancelled (a server that stops does not wait for a parse).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

FORK_CONTEXT = multiprocessing.get_context("forkserver")


@dataclass(frozen=True)
class Limits:
    seconds: float  # wall-clock time of the call
    memory_bytes: int  # address space the call may add to what its child starts with


class LimitExceeded(RuntimeError):
    """The call ran out of time or memory, or its child died; the message says which, as a phrase."""


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(answer: Connection, call: Callable[[], Any], limits: Limits) -> None:
    cpu_seconds = math.ceil(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    signal.alarm(cpu_seconds)  # ends the child even when its parent is gone and cannot kill it
    try:
        memory = _address_space() + limits.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except OSError:  # no /proc (not Linux): time limits only
        pass
    try:
        outcome: tuple[str, Any] = ("returned", call())
    except MemoryError:
        outcome = ("memory", None)
    except Exception as error:  # the parent re-raises it
        outcome = ("raised", error)
    except BaseException as error:  # a SystemExit or the like: never to be raised in the parent as such
        outcome = ("raised", RuntimeError(f"the call ended with {error!r}"))
    try:
        answer.send(outcome)
    except Exception as error:  # an exception or result that does not pickle
        answer.send(("raised", RuntimeError(f"{type(error).__name__}: {error}")))


def _death(process: BaseProcess) -> str:
    process.join(1)
    code = process.exitcode
    if code in (-signal.SIGXCPU, -signal.SIGALRM):
        return "took too long"
    if code is not None and code < 0:
        return f"ran out of memory or crashed (signal {signal.Signals(-code).name})"
    return f"stopped without an answer (exit code {code})"


async def _readable(connection: Connection) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(connection.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(connection.fileno())


def _kill(process: BaseProcess) -> None:
    if process.pid is not None and process.exitcode is None:
        process.kill()
        process.join(1)


def _main_script_imports() -> list[str]:
    """The modules whose names the main script's top level holds, when the process runs a script.

    Every child first runs the main script again (multiprocessing's preparation of a child; only `python -m`
    and `-c` are spared): the script of `jobland serve` imports the CLI and all it needs, seconds per child,
    unless the fork server has those modules imported already.
    """
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        return []
    names = {
        value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        for value in vars(main).values()
    }
    return sorted(name for name in names if isinstance(name, str) and name in sys.modules and name != "__main__")


# What this process's fork server imports when it starts, whoever starts it: only the first start's preload
# counts, so a module whose calls run in its children says on import what they need.
_FORK_SERVER_PRELOAD: list[str] = []


def preload_in_fork_server(modules: Sequence[str]) -> None:
    """Have the fork server import modules when it starts, whichever caller starts it first."""
    _FORK_SERVER_PRELOAD.extend(m for m in modules if m not in _FORK_SERVER_PRELOAD)


def start_fork_server(preload: Sequence[str]) -> None:
    """Start the fork server now, importing preload (and what preload_in_fork_server named) once for all
    children while nothing waits for it.

    The modules count only if this comes before the fork server's first start.
    """
    preload_in_fork_server(preload)
    FORK_CONTEXT.set_forkserver_preload([*_main_script_imports(), *_FORK_SERVER_PRELOAD])
    multiprocessing.forkserver.ensure_running()


async def run_bounded(call: Callable[[], T], limits: Limits, *, preload: Sequence[str] = ()) -> T:
    """call() in a child process within limits; raises LimitExceeded, or what call() raised.

    call and its result cross process boundaries pickled: a module-level function or a functools.partial of
    one. preload: as start_fork_server's, if the fork server is not running yet.
    """
    await asyncio.to_thread(start_fork_server, preload)
    answers, answer = FORK_CONTEXT.Pipe(duplex=False)
    process = FORK_CONTEXT.Process(target=_child, args=(answer, call, limits), daemon=True, name="bounded call")
    # The first start waits while the fork server imports the preload: in a thread, and shielded so that a
    # cancellation still sees the started child killed.
    starting = asyncio.ensure_future(asyncio.to_thread(process.start))
    try:
        await asyncio.shield(starting)
        answer.close()  # the child holds the sending end now: its death reads as the end of the pipe
        try:
            await asyncio.wait_for(_readable(answers), limits.seconds)
        except TimeoutError:
            raise LimitExceeded(f"took longer than {limits.seconds:g} s") from None
        try:
            kind, value = answers.recv()
        except EOFError:  # killed by its memory or CPU limit, or crashed in native code
            raise LimitExceeded(_death(process)) from None
    finally:
        answers.close()
        if starting.done():
            answer.close()
            _kill(process)
        else:
            starting.add_done_callback(lambda _: (answer.close(), _kill(process)))
    if kind == "memory":
        raise LimitExceeded(f"needed more than {limits.memory_bytes // (1024 * 1024)} MB of memory")
    if kind == "raised":
        raise value
    return value
