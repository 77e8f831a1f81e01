"""Client ids as the names that build systems give a client: the Gradle product flavor.

A client id is a slug (``prairie-fcu``); a Gradle flavor name ends up in task names
(``assemblePrairieFcuRelease``), source-set folders (``src/prairieFcu``) and generated code,
so the hyphens go. The rule lives here once: the android template writes the flavor name into
``nudge.properties`` (``nudge.flavor``) for Gradle to read, and the wiring docs' table is
checked against it.
"""

from __future__ import annotations

from collections.abc import Iterable

# AGP refuses these product flavor names (its DSL checks: "ProductFlavor names cannot be
# 'main'", "cannot start with 'test'", ...): source sets and test variants use them.
_AGP_RESERVED_NAMES = ("main", "lint")
_AGP_RESERVED_PREFIXES = ("androidTest", "test")


def android_flavor_name(client_id: str) -> str:
    """``prairie-fcu`` -> ``prairieFcu``: the words of the id in lowerCamelCase.

    Each hyphen-separated word after the first starts with a capital; letters and digits are
    otherwise kept as they are (client ids are lowercase slugs).
    """
    first, *rest = [word for word in client_id.split("-") if word]
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def flavor_name_problem(name: str) -> str | None:
    """Why AGP would refuse ``name`` as a product flavor, or None when it takes it."""
    if name in _AGP_RESERVED_NAMES:
        return f"the Android Gradle plugin reserves the flavor name {name!r}"
    for prefix in _AGP_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"the Android Gradle plugin refuses flavor names starting with {prefix!r}"
    return None


def flavor_name_clashes(client_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Flavor name -> the client ids that would share it (``a-b`` and ``a--b``; also names
    equal but for case, which share a source-set folder on macOS's case-insensitive disks)."""
    by_name: dict[str, list[str]] = {}
    for client_id in client_ids:
        by_name.setdefault(android_flavor_name(client_id).lower(), []).append(client_id)
    return {android_flavor_name(ids[0]): tuple(ids) for ids in by_name.values() if len(ids) > 1}
