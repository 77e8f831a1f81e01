"""``nudge-build verify``: check built apps against each client's flags, via the platform table.

:func:`run_verify` reads the artifacts and returns a :class:`VerifyReport`; the CLI prints it
(:mod:`.output` adds GitHub annotations and the step summary).
"""

from nudge_build.verify.findings import ArtifactError, Finding, VerifyReport
from nudge_build.verify.run import run_verify

__all__ = ["ArtifactError", "Finding", "VerifyReport", "run_verify"]
