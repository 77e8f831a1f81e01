"""The Organization record parsed from a GetOrganization response.

Parsing normalizes once: JSON ``null`` means "absent" (TOML, our lockfile format, has no null),
so the snapshot kept in the lockfile and the data a template sees are the same whether they came
from the API or from the lockfile, and the same inputs render the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nudge_build.errors import ApiError
from nudge_build.secret import contains_secret

# Text from a server is quoted at most this long (field names are the server's too).
QUOTE_LIMIT = 200

STATUSES = ("active", "onboarding", "suspended")


class OrganizationError(ApiError):
    """The response is not a usable Organization; the message names client and field path."""


class Sourced(str):
    """A string from organization data that remembers its field path, for error messages."""

    field: str

    def __new__(cls, value: str, field: str) -> Sourced:
        instance = super().__new__(cls, value)
        instance.field = field
        return instance


@dataclass(frozen=True)
class Organization:
    organization_id: str
    name: str
    status: str
    snapshot: Mapping[str, Any]  # the normalized response: what the lockfile stores
    digest: str

    def template_view(self) -> dict[str, Any]:
        """The ``org`` template variable: the snapshot plus documented defaults, strings Sourced."""
        view = _with_defaults(self.snapshot)
        return _sourced(view, "org")  # type: ignore[no-any-return]


# Optional fields and their defaults; anything not listed is kept as the API sent it.
_DEFAULTS: dict[str, Any] = {
    "status": "active",
    "timeZone": None,
    "updatedAt": None,
    "features": {"timeBasedNudges": True, "backgroundLocation": True, "geofenceCount": 0},
    "apps": {"ios": {"bundleId": None}, "android": {"applicationId": None}},
    "messaging": {
        "locationPermissionText": None,
        "locationWhenInUsePermissionText": None,  # each overrides locationPermissionText
        "locationAlwaysPermissionText": None,
        "backgroundNotificationText": None,
    },
}

# (path, expected kind, required)
_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("organizationId", "string", True),
    ("name", "string", True),
    ("features", "object", True),
    ("features.locationBasedNudges", "boolean", True),
    ("features.timeBasedNudges", "boolean", False),
    ("features.backgroundLocation", "boolean", False),
    ("features.geofenceCount", "integer", False),
    ("status", "string", False),
    ("timeZone", "string", False),
    ("updatedAt", "string", False),
    ("apps", "object", False),
    ("apps.ios", "object", False),
    ("apps.ios.bundleId", "string", False),
    ("apps.android", "object", False),
    ("apps.android.applicationId", "string", False),
    ("messaging", "object", False),
    ("messaging.locationPermissionText", "string", False),
    ("messaging.locationWhenInUsePermissionText", "string", False),
    ("messaging.locationAlwaysPermissionText", "string", False),
    ("messaging.backgroundNotificationText", "string", False),
)


def parse_organization(payload: object, *, client: str) -> Organization:
    """Validate and normalize a decoded response body; OrganizationError names the field path."""
    if not isinstance(payload, dict):
        raise OrganizationError(
            f"client {client}: response is a JSON {_kind(payload)}, expected an object"
        )
    snapshot = _drop_nulls(payload)
    _check_text(snapshot, "", client)
    _check_secrets(snapshot, client)
    for path, kind, required in _FIELDS:
        present, value = _lookup(snapshot, path)
        if not present:
            if required:
                raise OrganizationError(f"client {client}: organization field {path} is missing")
            continue
        if _kind(value) != kind:
            raise OrganizationError(
                f"client {client}: organization field {path}: expected {_article(kind)}, "
                f"got {_describe(value)}"
            )
    for path in ("organizationId", "name"):
        if not snapshot[path].strip():
            raise OrganizationError(f"client {client}: organization field {path} is empty")
    status = snapshot.get("status", "active")
    if status not in STATUSES:
        raise OrganizationError(
            f"client {client}: organization field status: expected one of "
            f"{', '.join(STATUSES)}, got {_describe(status)}"
        )
    count = snapshot["features"].get("geofenceCount", 0)
    if count < 0:
        raise OrganizationError(
            f"client {client}: organization field features.geofenceCount: "
            f"expected a count >= 0, got {count}"
        )
    return Organization(
        organization_id=snapshot["organizationId"],
        name=snapshot["name"],
        status=status,
        snapshot=snapshot,
        digest=organization_digest(snapshot),
    )


def _check_text(value: Any, path: str, client: str) -> None:
    """JSON can carry lone surrogates (``"\\ud800"``); no file we write can, nor can the digest."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            _check_text(key, where, client)
            _check_text(item, where, client)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]", client)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            raise OrganizationError(
                f"client {client}: organization field {_cut(path)}: contains U+{code:04X}, a "
                "lone surrogate, which is not text"
            ) from None


def _check_secrets(snapshot: Mapping[str, Any], client: str) -> None:
    """Refuse an answer that echoes a secret (or a piece of one) in a name or a value.

    Whatever an organization holds ends up in generated files, the lockfile and the shipped
    app; redacting it there would change the data, so the answer is not used at all."""
    texts = list(_texts(snapshot, ""))
    # One look at all of it first: most answers hold no secret, and one call is cheap.
    if not contains_secret("\0".join(text for _, text in texts)):
        return
    path = next((where for where, text in texts if contains_secret(text)), "")
    raise OrganizationError(
        f"client {client}: organization field {_cut(path) or '(a name)'}: holds a secret or "
        "part of one (an API key, the client secret or a token) that the server echoed; "
        "not using this answer"
    )


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            yield where, key
            yield from _texts(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _cut(text: str) -> str:
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


def organization_digest(snapshot: Mapping[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def _with_defaults(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    def merge(defaults: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(actual)
        for key, default in defaults.items():
            if isinstance(default, dict):
                current = actual.get(key, {})
                merged[key] = merge(default, current if isinstance(current, dict) else {})
            else:
                merged.setdefault(key, default)
        return merged

    return merge(_DEFAULTS, snapshot)


def _sourced(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return Sourced(value, path)
    if isinstance(value, dict):
        return {k: _sourced(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_sourced(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _lookup(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


# bool before int: in Python a bool is an int, in JSON it is not.
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _kind(value: object) -> str:
    return next((name for kind, name in _KINDS if isinstance(value, kind)), "null")


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _describe(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{_kind(value)} {text}"
