"""Keep third-party chatter (progress bars, version warnings, native logs) out of our output (torch-free)."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager


def _flush_all() -> None:
    """Flush Python's and C's stdio buffers, so buffered native output lands where it was written."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library handle (e.g. some Windows builds): Python buffers only
        pass


@contextmanager
def quiet():
    """Run a toolchain with its stdout/stderr (Python and native: progress bars, version warnings, MLIR logs)
    sent to a temporary file; our own output stays clean. On failure the last lines are attached to the error."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    _flush_all()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as log, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except Exception as exc:
            _flush_all()
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
            exc.add_note("toolchain output:\n" + "\n".join(tail))
            raise
        finally:
            _flush_all()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            logging.disable(previous)
