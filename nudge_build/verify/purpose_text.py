"""Purpose strings App Review rejects: empty, placeholder or generic text.

Apple asks each purpose string to say why the app uses the data; "Allow $(PRODUCT_NAME) to
access your location" (expo-location's default) and "This app needs your location" say nothing
of the kind. The lists below are deliberately small and documented in docs/verify.md: each
pattern is text no FI would ship on purpose, so a match is always worth a look.
"""

from __future__ import annotations

import re

# Found anywhere in the text: something that was meant to be replaced before shipping.
PLACEHOLDER_MARKERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\$\(|\$\{"), "an unexpanded build setting ($(...) or ${...})"),
    (re.compile(r"\{\{|\}\}|\{%"), "unrendered template syntax"),
    (re.compile(r"\b(TODO|FIXME|TBD|XXX+)\b"), "a TODO-style placeholder"),
    (re.compile(r"\blorem\b|\bipsum\b", re.IGNORECASE), "lorem ipsum placeholder text"),
    (re.compile(r"\bplaceholder\b|\bchange ?me\b", re.IGNORECASE), "placeholder text"),
)

# The whole text (case, spacing and a final full stop aside) is one of these generic requests.
_APP = r"(this app|the app|our app|app|we)"
_WANTS = r"(needs?|requires?|uses?|wants?|would like)( to (access|use))?"
GENERIC_TEXTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"allow .{1,80} to (access|use) your location( .{0,60})?"),
        'expo-location\'s generic text ("Allow … to access your location")',
    ),
    (
        re.compile(rf"{_APP} {_WANTS} (access to )?(your )?(current |device )?location( access)?"),
        "a generic request that does not say what the location is for",
    ),
    (
        re.compile(r"(your )?location( access| permission)?( is)? (required|needed|used)"),
        "a generic request that does not say what the location is for",
    ),
    (re.compile(r"(your |use )?(current )?location"), "a bare word, not a reason"),
)


def purpose_text_problem(text: str) -> str | None:
    """Why ``text`` would fail App Review as a purpose string, or None when it may pass."""
    if not text.strip():
        return "empty or whitespace-only text"
    normal = " ".join(text.lower().split()).rstrip(".!")
    for pattern, reason in GENERIC_TEXTS:
        if pattern.fullmatch(normal):
            return reason
    for pattern, reason in PLACEHOLDER_MARKERS:
        if pattern.search(text):
            return reason
    return None
