"""The public face of agentloop.artifacts."""

from __future__ import annotations

import agentloop.artifacts as artifacts_package


def test_exported_members() -> None:
    assert sorted(artifacts_package.__all__) == sorted([
        "REPORT_COLUMNS", "REPORT_HEADER", "SUMMARY_FIELDS", "TAIL_LINES", "ArtifactWriter",
        "LogFile", "ReportRow", "RunDir", "append_report_row", "build_summary", "format_row",
        "kind_of", "layout", "parse_report", "report_rows", "run_log_text", "safe_join",
        "sha256_of", "step_task_counts", "tail_lines", "write_report", "write_run_log",
        "write_summary",
    ])  # fmt: skip
    for name in artifacts_package.__all__:
        assert getattr(artifacts_package, name) is not None
