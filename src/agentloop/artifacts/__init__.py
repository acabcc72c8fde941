"""A run's files on disk (SPEC 13): layout, mirroring, indexing, report.tsv, summary.json,
run.log.

run_dir = RunDir.for_run(run.id, workspace_root=ws, global_log_dir=data_dir / "logs",
                         log_dir=config.log_dir, mode=config.artifact_mode)
files = ArtifactWriter(run_dir, store)
files.ensure_dirs()
files.write_text(layout.PROMPT, prompt)
with files.open_log(layout.iter_log(n)) as log:   # mirrored + indexed on close
    log.write_line(line)
files.write_tail(layout.iter_log(n), layout.iter_tail(n))
append_report_row(files, ReportRow(...))
write_report(files, report_rows(steps, counts=step_task_counts(events)))
write_summary(files, build_summary(run, steps, run_dir))
write_run_log(files, run_log_text(events))
"""

from agentloop.artifacts import layout
from agentloop.artifacts.layout import RunDir, kind_of, safe_join
from agentloop.artifacts.report import (
    REPORT_COLUMNS,
    REPORT_HEADER,
    ReportRow,
    append_report_row,
    format_row,
    parse_report,
    report_rows,
    step_task_counts,
    write_report,
)
from agentloop.artifacts.run_log import run_log_text, write_run_log
from agentloop.artifacts.summary import SUMMARY_FIELDS, build_summary, write_summary
from agentloop.artifacts.writer import (
    TAIL_LINES,
    ArtifactWriter,
    LogFile,
    sha256_of,
    tail_lines,
)

__all__ = [
    "REPORT_COLUMNS",
    "REPORT_HEADER",
    "SUMMARY_FIELDS",
    "TAIL_LINES",
    "ArtifactWriter",
    "LogFile",
    "ReportRow",
    "RunDir",
    "append_report_row",
    "build_summary",
    "format_row",
    "kind_of",
    "layout",
    "parse_report",
    "report_rows",
    "run_log_text",
    "safe_join",
    "sha256_of",
    "step_task_counts",
    "tail_lines",
    "write_report",
    "write_run_log",
    "write_summary",
]
