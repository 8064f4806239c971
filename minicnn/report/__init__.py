"""A run at a glance: report.html, one self-contained page per run folder, and one comparing runs.

    run_data.py   what a run folder holds (every piece optional, each checked)
    charts.py     the curves, as inline SVG drawn by matplotlib, hoverable
    page.py       the pages, from the Jinja2 templates in templates/
    live.py       the training run's epoch callback that keeps report.html current

    python -m minicnn report runs/ahe                   # -> runs/ahe/report.html
    python -m minicnn report runs/a runs/b --out ab.html
"""
from .live import LiveReport, refresh_run_report, write_report_or_warn
from .page import REPORT, SECTIONS, write_comparison, write_report
from .run_data import ReportError, read_run, write_predictions

__all__ = ["LiveReport", "refresh_run_report", "write_report_or_warn", "REPORT", "SECTIONS", "write_comparison",
           "write_report", "ReportError", "read_run", "write_predictions"]
