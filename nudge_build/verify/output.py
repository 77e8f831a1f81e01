"""``verify`` in GitHub Actions: one ``::error`` annotation per finding and a summary table.

Found values come from the artifacts: the annotation escapes them as workflow-command data, the
summary as literal Markdown, so no artifact can end a command or inject a link.
"""

from __future__ import annotations

from collections.abc import Mapping

from nudge_build import github
from nudge_build.verify.findings import VerifyReport


def report_github(report: VerifyReport, environ: Mapping[str, str] | None = None) -> None:
    for finding in report.findings:
        github.annotate(
            "error",
            finding.line(),
            title=f"nudge-build verify: {finding.client}: {finding.rule}",
            environ=environ,
        )
    for error in report.errors:
        github.annotate(
            "error", error.line(), title=f"nudge-build verify: {error.client}", environ=environ
        )
    # Counts only: findings quote the artifacts, which the annotations and summary escape.
    outputs = {"findings": str(len(report.findings)), "checked": str(report.checked)}
    github.set_outputs(outputs, environ)
    github.append_summary(summary_markdown(report), environ)


def summary_markdown(report: VerifyReport) -> str:
    text = github.markdown_text
    lines = ["## nudge-build verify", "", text(report.summary_line()), ""]
    if report.findings:
        lines += [
            "| client | artifact | rule | found | expected | fix |",
            "|---|---|---|---|---|---|",
        ]
        shown = report.findings[: github.SUMMARY_MAX_PATHS]
        for f in shown:
            cells = (f.client, f.artifact, f.rule, f.found, f.expected, f.fix)
            lines.append("| " + " | ".join(text(c) for c in cells) + " |")
        if len(report.findings) > len(shown):
            lines.append(f"| … | {len(report.findings) - len(shown)} more | | | | |")
    if report.errors:
        lines += ["", f"**Missing or unreadable artifacts: {len(report.errors)}**", ""]
        lines += [f"- {text(e.line())}" for e in report.errors]
    return "\n".join(lines) + "\n"
