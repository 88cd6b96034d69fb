"""Errors a user can cause, each mapped to the documented exit code (docs/architecture.md, "Exit codes").

The CLI prints `str(error)` as one sentence and exits with `error.exit_code`; a traceback is shown only
with `--debug`. Library code raises these instead of printing.
"""

EXIT_OK = 0
EXIT_STAGE_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID_DATA = 3
EXIT_FROZEN_MISSING = 4


class BubblelensError(Exception):
    """Base class: a problem the user can act on, stated in one sentence."""

    exit_code = EXIT_STAGE_FAILED


class StageError(BubblelensError):
    """A pipeline stage failed for a reason that is not the user's input."""

    exit_code = EXIT_STAGE_FAILED


class ClaimError(StageError):
    """A claim's statistic, reachability probe or verdict simulation raised something other than
    `Insufficient`: a bug, not weak evidence, so it fails the build naming the claim instead of passing
    for an "inconclusive" verdict."""


class UsageError(BubblelensError):
    """A bad option, profile, model or device name."""

    exit_code = EXIT_USAGE


class DataError(BubblelensError):
    """Invalid input data or provenance: names the file (and line/column when known)."""

    exit_code = EXIT_INVALID_DATA


class FrozenMissingError(BubblelensError):
    """`--frozen` was given but a trained result is not in the cache or results bundle."""

    exit_code = EXIT_FROZEN_MISSING
