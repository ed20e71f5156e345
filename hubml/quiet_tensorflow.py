"""TensorFlow's start-up chatter, kept out of logs and cells; its warnings and errors kept in.

Three sources of noise, and what is done about each:

- TensorFlow's own INFO lines (CPU instructions, ...) obey
  `TF_CPP_MIN_LOG_LEVEL`: the runtime and the IPython extension set it to 1
  (warnings and errors still show) unless the user set it.
- Some lines are written before absl's logging starts (after absl's banner
  "All log messages before absl::InitializeLog() ..."), so no log level holds
  them back. Which ones depends on the CPU: where oneDNN's custom operations
  are on by default (AVX-512 with VNNI, BF16 or FP16, AMX), every import
  writes `oneDNN custom operations are on`, twice, at INFO. These exact INFO
  lines are dropped where people read logs unless the level asks for INFO (0).
- The `tensorflow` wheel carries the CUDA platform. On a machine without
  NVIDIA's driver, importing TensorFlow logs `Could not find cuda drivers`,
  and listing devices logs `E... failed call to cuInit: ... UNKNOWN ERROR
  (303)`: the driver library is absent, which is expected on a CPU machine.
  These too come before TensorFlow's log level applies; CUDA_VISIBLE_DEVICES
  does not remove them either (cuInit fails before it is read).
  `tensorflow-cpu`, the CPU-only wheel, has no CUDA platform and prints none
  of them. With the full wheel, these exact lines are dropped where people
  read logs, and only where no GPU was asked for and no NVIDIA device exists.

The raw log files keep every byte.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, Mapping, MutableMapping

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
WARNINGS_AND_ERRORS = "1"

INFO_WANTED = "0"
ABSL_BANNER = r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
# Exactly these lines, nothing wider: the INFO ones no log level holds back, and the CUDA-carrying wheel's
# on a machine without the driver.
EARLY_INFO_LINES = re.compile(
    rf"^({ABSL_BANNER}"
    r"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\. .*)$")
NO_DRIVER_LINES = re.compile(
    rf"^({ABSL_BANNER}"
    r"|[IWE]\d{4} [\d:. ]+\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\."
    r"|E\d{4} [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*)$")


def set_log_level(environment: MutableMapping[str, str] = os.environ) -> None:
    """TensorFlow's C++ logs at warnings and errors, unless the user chose a level."""
    environment.setdefault(LOG_LEVEL_ENV, WARNINGS_AND_ERRORS)


def machine_has_gpu() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def info_wanted(environment: Mapping[str, str]) -> bool:
    """Whether the TensorFlow log level in `environment` (as `set_log_level` leaves it) lets INFO lines through."""
    return environment.get(LOG_LEVEL_ENV, WARNINGS_AND_ERRORS).strip() == INFO_WANTED


def is_no_driver_line(text: str) -> bool:
    return bool(NO_DRIVER_LINES.match(text))


def is_start_up_chatter(text: str, gpu_expected: bool, wants_info: bool) -> bool:
    """A line TensorFlow writes whatever the log level, and that means nothing to this reader: its early
    INFO lines unless INFO was asked for, and its no-driver lines unless a GPU was expected."""
    return bool((not wants_info and EARLY_INFO_LINES.match(text)) or (not gpu_expected and is_no_driver_line(text)))


def without_start_up_chatter(text: str, gpu_expected: bool, wants_info: bool) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if not is_start_up_chatter(line.rstrip("\r\n"), gpu_expected, wants_info))


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
    rest = without_start_up_chatter("".join(captured), machine_has_gpu(), info_wanted(os.environ))
    if rest:
        sys.stderr.write(rest)
        sys.stderr.flush()
