"""A review kit as Markdown a release manager reads rendered (GitHub, an editor) and pastes from.

Organization text is data, never markup: inline it is backslash-escaped so that no HTML, image,
link, autolink, mention or emphasis can come from it; texts to paste sit in fenced code blocks,
where nothing is interpreted and the copy is exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from nudge_build.review.kit import Field, ReviewKit, Section

# CommonMark lets a backslash escape any ASCII punctuation; these few never start markup,
# in CommonMark or GitHub's extensions, and stay as they are so the text reads naturally.
_HARMLESS = set(",;?%/'\"")
_ESCAPED = "".join(c for c in map(chr, range(33, 127)) if not c.isalnum() and c not in _HARMLESS)
_ESCAPE = re.compile("[" + re.escape(_ESCAPED) + "]")
# Every line break CommonMark or a browser may honour: an inline value stays on its line.
_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x85\u2028\u2029]")


def escape_inline(text: str) -> str:
    """``text`` as literal Markdown inline text (one line)."""
    return _ESCAPE.sub(lambda m: "\\" + m.group(0), _LINE_BREAKS.sub(" ", text))


def code_span(text: str) -> str:
    """``text`` as an inline code span: shown literally, on one line."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return (
        f"{ticks} {_LINE_BREAKS.sub(' ', text)} {ticks}"
        if longest
        else f"`{_LINE_BREAKS.sub(' ', text)}`"
    )


def fenced(text: str) -> str:
    """``text`` in a fenced code block that no line of it can close."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip(chr(10))}\n{fence}"


def kit_markdown(kit: ReviewKit) -> str:
    lines = [f"# Review kit: {escape_inline(kit.organization)} ({kit.client})", ""]
    flags = ", ".join(
        f"{code_span(name)} {'on' if on else 'off'}" for name, on in kit.flags.items()
    )
    lines += [f"Flags: {flags}. Location mode: {kit.location_mode}.", ""]
    labels = {"ios": "iOS bundle id", "android": "Android application id"}
    for platform, app_id in kit.apps.items():
        lines.append(f"- {labels[platform]}: {code_span(app_id)}")
    if kit.apps:
        lines.append("")
    lines += [f"**{kit.statement}**", ""]
    for section in kit.sections:
        lines += _section(section)
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}", "", f"Where: {section.where}", ""]
    for field in section.fields:
        text = _fill(field)
        if field.paste:
            lines += [f"**{field.label}** (paste as is):", "", fenced(field.text), ""]
        else:
            lines += [f"**{field.label}:** {text}", ""]
    if section.checklist:
        lines += ["Before you submit:", ""]
        lines += [f"- [ ] {item}" for item in section.checklist]
        lines.append("")
    return lines


def _fill(field: Field) -> str:
    escaped: Mapping[str, str] = {k: escape_inline(v) for k, v in field.values.items()}
    return field.template.format_map(escaped)
