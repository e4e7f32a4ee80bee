"""Processes that never outlive their parent: Linux's PR_SET_PDEATHSIG, asked for in
the child (make run's children, the tests' stacks)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Get `sig` when the parent process ends. With `parent` (its pid, read before
    the fork), also end now if it has ended already. Elsewhere than Linux: nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
