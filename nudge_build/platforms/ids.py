"""The app ids an organization names, checked against each platform's syntax before render.

A bad id would otherwise reach ``PRODUCT_BUNDLE_IDENTIFIER`` and ``nudge.properties`` and fail
much later, in Xcode, Gradle or the store upload, far from the organization that sent it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from nudge_build.org import Organization, OrganizationError

# Apple (CFBundleIdentifier): letters A-Z and a-z, digits, hyphens and periods; we also refuse
# empty parts (a leading, trailing or doubled period), which no App Store Connect id has.
_BUNDLE_ID = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# Android (applicationId): at least two parts, each starting with a letter, then letters,
# digits or underscores.
_APPLICATION_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")

BUNDLE_ID_RULE = "letters A-Z a-z, digits, '-' and '.', with no empty part between periods"
APPLICATION_ID_RULE = (
    "at least two parts separated by '.', each starting with a letter and holding only "
    "letters A-Z a-z, digits and '_'"
)


def bundle_id_problem(value: str) -> str | None:
    """Why Apple would refuse ``value`` as a bundle id, or None."""
    return None if _BUNDLE_ID.fullmatch(value) else f"an Apple bundle id has {BUNDLE_ID_RULE}"


def application_id_problem(value: str) -> str | None:
    """Why Android would refuse ``value`` as an application id, or None."""
    if _APPLICATION_ID.fullmatch(value):
        return None
    return f"an Android application id has {APPLICATION_ID_RULE}"


# (field path in the organization, checker)
_CHECKS = (
    ("apps.ios.bundleId", bundle_id_problem),
    ("apps.android.applicationId", application_id_problem),
)


def check_app_ids(org: Organization, *, client: str) -> None:
    """Raise OrganizationError naming client, field and value for the first bad id."""
    for path, problem_of in _CHECKS:
        value = _lookup(org.snapshot, path)
        if not isinstance(value, str):
            continue  # absent: the app keeps its own id
        problem = problem_of(value)
        if problem is not None:
            raise OrganizationError(
                f"client {client}: organization field {path}: {_show(value)} is not valid: "
                f"{problem}"
            )


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _show(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + '..."'
