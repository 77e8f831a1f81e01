"""Merge targets: nudge's own keys, set in place inside files the partner owns.

Each editor here is a pure function of the file's bytes and what the platform table asks for;
everything outside nudge's keys comes back byte for byte. ``plan`` reads the targets and asks the
editors, ``apply`` writes them together with the client's generated files.
"""

from nudge_build.merge.plist import encode_plist_string, merge_info_plist, nudge_part

__all__ = ["encode_plist_string", "merge_info_plist", "nudge_part"]
