"""TensorFlow's start-up chatter, kept out of logs and cells; its warnings and errors kept in.

Two sources of noise, and what is done about each:

- TensorFlow's own INFO lines (oneDNN, CPU instructions, ...) obey
  `TF_CPP_MIN_LOG_LEVEL`: the runtime and the IPython extension set it to 1
  (warnings and errors still show) unless the user set it.
- The `tensorflow` wheel carries the CUDA platform. On a machine without
  NVIDIA's driver, importing TensorFlow logs `Could not find cuda drivers`
  (after absl's banner "All log messages before absl::InitializeLog() ..."),
  and listing devices logs `E... failed call to cuInit: ... UNKNOWN ERROR
  (303)`: the driver library is absent, which is expected on a CPU machine.
  absl writes these before TensorFlow's log level applies, so no variable
  removes them; CUDA_VISIBLE_DEVICES does not either (cuInit fails before it
  is read). `tensorflow-cpu`, the CPU-only wheel, has no CUDA platform and
  prints none of them. With the full wheel, these exact lines are dropped
  where people read logs, and only where no GPU was asked for and no NVIDIA
  device exists: the raw log files keep every byte.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, MutableMapping

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
WARNINGS_AND_ERRORS = "1"

# Exactly the lines the CUDA-carrying wheel prints on a machine without the driver, nothing wider.
NO_DRIVER_LINES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\."
    r"|E\d{4} [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*)$")


def set_log_level(environment: MutableMapping[str, str] = os.environ) -> None:
    """TensorFlow's C++ logs at warnings and errors, unless the user chose a level."""
    environment.setdefault(LOG_LEVEL_ENV, WARNINGS_AND_ERRORS)


def machine_has_gpu() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def is_no_driver_line(text: str) -> bool:
    return bool(NO_DRIVER_LINES.match(text))


def without_no_driver_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not is_no_driver_line(line.rstrip("\r\n")))


@contextlib.contextmanager
def captured_stderr_fd() -> Iterator[list[str]]:
    """What C++ code writes to file descriptor 2 meanwhile, handed back as text once the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    captured: list[str] = []
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            scratch.seek(0)
            captured.append(scratch.read().decode(errors="replace"))


def import_tensorflow() -> None:
    """Import TensorFlow in a kernel without its no-driver lines showing as a red stderr block in the cell.

    ipykernel shows whatever reaches file descriptor 2 as the cell's stderr; the
    import's other output (a real warning or error) is written on.
    """
    if "tensorflow" in sys.modules:
        return
    set_log_level()
    with captured_stderr_fd() as captured:
        import tensorflow  # noqa: F401
    rest = "".join(captured) if machine_has_gpu() else without_no_driver_lines("".join(captured))
    if rest:
        sys.stderr.write(rest)
        sys.stderr.flush()
