"""``verify``: each selected client's built artifacts checked against its locked flags.

The flags come from the lockfile (what the last build rendered for), the rules from the
platform table, the expected bundle and application ids from the organization snapshot. Every
artifact is read and checked even when an earlier one failed, so one run lists every problem.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from nudge_build.config import CLIENT_PLACEHOLDER
from nudge_build.errors import ConfigError
from nudge_build.pipeline import Job, orgs_from_lock
from nudge_build.platforms import FlagSet, rules_for
from nudge_build.verify.android import check_android, read_android_artifact
from nudge_build.verify.findings import (
    ArtifactError,
    Collector,
    UnreadableArtifact,
    VerifyReport,
)
from nudge_build.verify.ios import check_ios, read_ios_artifact

_FLAG_NAMES = tuple(f.name for f in fields(FlagSet))  # the flags the platform table reads

T = TypeVar("T")


def run_verify(job: Job, *, ios: str | None, android: str | None) -> VerifyReport:
    """Check ``ios`` and/or ``android`` (paths that may hold ``{client}``) for each client."""
    if ios is None and android is None:
        raise ConfigError("verify: give --ios PATH, --android PATH or both")
    for option, pattern in (("--ios", ios), ("--android", android)):
        if pattern is not None and CLIENT_PLACEHOLDER not in pattern and len(job.selected) > 1:
            raise ConfigError(
                f"verify: {option} {pattern} names one artifact for {len(job.selected)} "
                f"clients: put {CLIENT_PLACEHOLDER} in the path, or name one client"
            )
    orgs = orgs_from_lock(job)
    report = VerifyReport()
    for client in job.selected:
        rules = rules_for(_locked_flag_set(job, client.id))
        apps = orgs[client.id].template_view()["apps"]
        if ios is not None:
            path = _expand(ios, client.id)
            out = Collector(client.id, "ios", str(path))
            artifact = _read(report, out, read_ios_artifact, path)
            if artifact is not None:
                check_ios(artifact, rules.ios, _text(apps["ios"]["bundleId"]), out)
                report.findings += out.findings
        if android is not None:
            path = _expand(android, client.id)
            out = Collector(client.id, "android", str(path))
            manifest = _read(report, out, read_android_artifact, path)
            if manifest is not None:
                check_android(manifest, rules.android, _text(apps["android"]["applicationId"]), out)
                report.findings += out.findings
    return report


def _locked_flag_set(job: Job, client_id: str) -> FlagSet:
    flags = job.lock.clients[client_id].flags
    missing = [name for name in _FLAG_NAMES if name not in flags]
    if missing:
        raise ConfigError(
            f"{job.config.output.lockfile}: client {client_id} has no recorded flag "
            f"{', '.join(missing)}; run `nudge-build fetch` to record its flags"
        )
    return FlagSet.of(flags)


def _expand(pattern: str, client_id: str) -> Path:
    return Path(pattern.replace(CLIENT_PLACEHOLDER, client_id))


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _read(
    report: VerifyReport, out: Collector, reader: Callable[[Path], T], path: Path
) -> T | None:
    """The artifact, or None with an error in ``report`` when it is missing or unreadable."""
    try:
        artifact = reader(path)
    except FileNotFoundError:
        message = "missing: no such file or directory"
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        message = f"cannot read it: {reason}"
    except UnreadableArtifact as exc:
        message = f"unreadable: {exc}"
    else:
        report.checked += 1
        return artifact
    report.errors.append(ArtifactError(out.client, out.platform, str(path), message))
    return None
