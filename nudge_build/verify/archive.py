"""Reading one file out of an ``.ipa``, ``.apk`` or ``.aab`` (all zip archives)."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nudge_build.verify.findings import UnreadableArtifact

# A manifest or Info.plist is kilobytes; a member claiming more is damaged or hostile, and would
# only cost memory to read.
MAX_MEMBER_BYTES = 16 * 1024 * 1024


@contextmanager
def open_archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The archive, its damage (bad zip, bad deflate data, encryption) as UnreadableArtifact."""
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        raise UnreadableArtifact(f"not a readable {path.suffix} (zip): {exc}") from exc
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        raise UnreadableArtifact(f"cannot read the {path.suffix}: {exc}") from exc


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    size = archive.getinfo(name).file_size
    if size > MAX_MEMBER_BYTES:
        raise UnreadableArtifact(f"{name} claims {size} bytes: too large for its kind")
    return archive.read(name)
