"""Exit codes of every command, and the two kinds of error that are not a failed run.

- 0: every check held;
- 1: a kernel check failed or the firmware panicked;
- 2: usage error (a bad option, scenario, spec, or a combination that cannot work);
- 3: environment error (a path that cannot be written, a simulator missing or broken, a failed build);
- 130 / 143: interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import errno
import sys

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_ENVIRONMENT",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_CODES_HELP",
    "SimulatorCrashed",
    "os_error_text",
    "UsageError",
    "EnvironmentProblem",
    "report_error",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

EXIT_CODES_HELP = (
    "Exit codes: 0 every check held; 1 a kernel check failed or the firmware panicked; "
    "2 usage error (bad option, scenario, spec, or a combination that cannot work); "
    "3 environment error (path not writable, simulator missing or broken, build failed, or the simulator "
    "crashed during the run); "
    "130/143 interrupted (SIGINT/SIGTERM)."
)


class UsageError(ValueError):
    """What was asked for cannot work: exit 2 with the message."""


class EnvironmentProblem(RuntimeError):
    """The machine cannot do it (a path, a simulator, a build): exit 3 with the message."""


class SimulatorCrashed(EnvironmentProblem):
    """The simulator started the run and died before its end (a signal, a non-zero status): exit 3.
    Not a broken build, so neither rebuilt nor run again."""


def os_error_text(exc: OSError) -> str:
    """``File too large (EFBIG)``: what the system said, with the errno's name to search for."""
    name = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or exc}" + (f" ({name})" if name else "")


def report_error(prog: str, exc: UsageError | EnvironmentProblem) -> int:
    """Say ``prog: error: <message>`` in one line on stderr; returns the exit code of its kind."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ENVIRONMENT
