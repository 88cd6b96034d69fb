"""Pool processes die with the build that started them, even when it is killed outright (SIGKILL, the OOM
killer: issue 23, where a forkserver and two workers outlived a killed build by 38 minutes).

Why they did not: a pool worker is forked by multiprocessing's forkserver, not by the build, and is busy
training; it reads nothing from the build until its unit ends, and it then blocks on pipes that it holds both
ends of. The forkserver does end when its "alive" pipe reaches end-of-file, but every worker inherits a copy
of that pipe's write end, so the forkserver waits for the workers, and the workers wait for nothing.

Two mechanisms, because neither covers every case alone:

1. A lifeline pipe (any platform and start method): the build holds the only write end, and each worker
   watches the read end in a daemon thread and exits at end-of-file, which the kernel delivers the moment the
   build is gone, however it died. End-of-file stays, so a build that died before a worker started watching
   is seen too: no race. It follows the build *process* (not the thread that started anything), and once the
   workers have gone the forkserver ends by its own alive pipe, as multiprocessing intends.
2. PR_SET_PDEATHSIG (Linux, via prctl): the kernel SIGKILLs a process when its parent dies, even while it
   is stuck in a long C call holding the GIL, where a watcher thread cannot run. A worker's parent is the
   forkserver, so the forkserver is armed too, against the build: `start_forkserver` has the forkserver
   preload pipeline/forkserver_lifeline.py, which arms it at import. The signal fires when the parent
   *thread* that forked the child exits, so the forkserver is armed only when started from the build's main
   thread (that thread lasts as long as the process); the forkserver forks every worker from its own main
   thread. Each process checks, after arming, that its parent is still the expected one: if that parent died
   first, no signal will ever come, so it exits at once.

Elsewhere (no prctl) only the pipe acts, and nothing else changes.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

PARENT_ENV = "_BUBBLELENS_FORKSERVER_PARENT"   # the build's pid, for the forkserver's preload (then removed)
PRELOAD_MODULE = "bubblelens.pipeline.forkserver_lifeline"
ORPHAN_EXIT = 75                                # exit status of a process whose build (or parent) has gone
_PR_SET_PDEATHSIG = 1                           # from <linux/prctl.h>


def set_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Linux: have the kernel send `sig` to this process when its parent (thread) dies. False elsewhere or
    when prctl is unavailable; then nothing has changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        zero = ctypes.c_ulong(0)
        return libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(int(sig)), zero, zero, zero) == 0
    except (OSError, AttributeError, ValueError):
        return False


def die_with_parent(expected_parent: int) -> bool:
    """Arm the death signal (SIGKILL) against this process's parent, which must be `expected_parent`; exit
    now if it is not (the parent died before the signal was armed, and this process has been re-parented).
    False where it cannot be armed (not Linux): then it does nothing."""
    if not set_death_signal(signal.SIGKILL):
        return False
    if os.getppid() != expected_parent:
        os._exit(ORPHAN_EXIT)
    return True


def start_forkserver(context, preload: tuple[str, ...] = ()) -> None:
    """Build side, before a forkserver pool: start multiprocessing's forkserver (if not running) so that it
    dies with this process. Only from the main thread (see the module docstring); a forkserver started any
    other way, or already running, is left as it is and ends by its alive pipe once the workers have gone.
    `preload`: modules the forkserver imports once, so that every worker forked from it starts with them."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import forkserver

    # multiprocessing's default, ours, then the caller's (a module that fails to import is skipped there)
    context.set_forkserver_preload(["__main__", PRELOAD_MODULE, *preload])
    os.environ[PARENT_ENV] = str(os.getpid())                       # read (and removed) by the forkserver
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(PARENT_ENV, None)


class Lifeline:
    """Build side: a pipe whose write end only this process holds; `end` (the read end) goes to each worker,
    which passes it to `die_with_build`. Close it once the pool's workers have been joined."""

    def __init__(self, context) -> None:
        self.end, self._held = context.Pipe(duplex=False)

    def close(self) -> None:
        self.end.close()
        self._held.close()


def die_with_build(end) -> None:
    """Worker side (a pool initializer): exit when the build that started this worker ends, however it ends."""
    server_pid = getattr(sys.modules.get(PRELOAD_MODULE), "ARMED_PID", None)
    if server_pid is not None and server_pid != os.getpid():
        die_with_parent(server_pid)          # forked by a forkserver that itself dies with the build

    def watch() -> None:
        end.poll(None)                       # nothing is ever sent: readable means end-of-file
        os._exit(ORPHAN_EXIT)

    threading.Thread(target=watch, name="bubblelens-lifeline", daemon=True).start()
