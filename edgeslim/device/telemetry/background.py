"""Poll slow telemetry (a ``vcgencmd`` subprocess, a serial meter) off the inference thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from edgeslim.device.telemetry.base import Reading


class BackgroundPoller:
    """Calls ``read`` every ``period_s`` on a daemon thread; :meth:`latest` returns the newest reading at once.

    The control loop then never waits for a subprocess or a serial timeout. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(self, read: Callable[[], Reading | None], period_s: float = 1.0):
        self._read, self.period_s = read, period_s
        self._latest: Reading | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeslim-telemetry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._latest = self._read()
            self._stop.wait(self.period_s)

    def latest(self) -> Reading | None:
        return self._latest

    __call__ = latest

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.period_s + 1)

    def __enter__(self) -> BackgroundPoller:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
