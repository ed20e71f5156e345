"""What `--retries` retries, the same on every backend.

An attempt is retried when it was lost: a replica killed by a signal or for memory, its pod evicted or
deleted, its node gone. Then every replica starts again as the next attempt, and Keras resumes from the
last backup under HUBML_CHECKPOINT_DIR. It is never retried when the code failed (an exception, or its
requirements would not install): the same code would fail the same way, so the job fails at once, with
the log tail, whatever `--retries` says.
"""
from __future__ import annotations

EXIT_CODE_FAILED = 1  # Python's own exit code for an uncaught exception
EXIT_REQUIREMENTS_FAILED = 3
CODE_ERROR_EXIT_CODES = (EXIT_CODE_FAILED, EXIT_REQUIREMENTS_FAILED)
# A replica that stopped because its attempt was lost elsewhere (sysexits' EX_TEMPFAIL: try again).
EXIT_ATTEMPT_LOST = 75


def is_code_error(exit_code: int | None) -> bool:
    return exit_code in CODE_ERROR_EXIT_CODES
