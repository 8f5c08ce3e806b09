"""Guards for tests of hostile input: no loader may start a process or hang."""

import contextlib
import signal
import sys

# Audit events of every way Python starts a program.
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
_watchers = []


def _hook(event, args):
    if _watchers and event in PROCESS_EVENTS:
        _watchers[-1].append((event, args))
        raise PermissionError(f"a test forbids starting a process ({event} {args!r})")


sys.addaudithook(_hook)


@contextlib.contextmanager
def no_process():
    """Record (and refuse) every attempt to start a process; yields the list of attempts."""
    attempts = []
    _watchers.append(attempts)
    try:
        yield attempts
    finally:
        _watchers.remove(attempts)


class Hang(Exception):
    """A guarded call ran past its time bound."""


@contextlib.contextmanager
def no_hang(seconds=20):
    """Fail with Hang instead of waiting forever (a bound on hangs, far above normal runs)."""

    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
