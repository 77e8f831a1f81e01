"""``nudge-build review``: each client's store-submission kit, from its lockfile entry.

``kit`` decides what each form needs (from the platform table's store view), ``markdown``
writes it for a person to paste from, ``run`` reads the lockfile and writes the files.
"""

from nudge_build.review.kit import Field, ReviewKit, Section, build_kit, kit_data
from nudge_build.review.markdown import kit_markdown

__all__ = ["Field", "ReviewKit", "Section", "build_kit", "kit_data", "kit_markdown"]
