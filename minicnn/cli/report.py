"""``python -m minicnn report``: a run's report.html, or one page comparing runs.

    report RUN_DIR [--out FILE]           # default FILE: RUN_DIR/report.html
    report RUN_A RUN_B ... --out FILE     # curves overlaid, final figures side by side

RUN_DIR is a folder written by examples/train_ahe.py, finished or not, old or
new: what it holds is shown, what it lacks is said in its section. The page is
one file with everything inline; it opens offline and fetches nothing.
"""
import os

from ..io.paths import check_outputs
from ..report import REPORT, write_comparison, write_report
from ..report.run_data import PIECES


def add_parser(commands):
    report = commands.add_parser("report", help="write a run's report.html, or compare runs",
                                 description=__doc__.split("\n\n", 2)[2].strip())
    report.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="a run folder; two or more: a comparison page (needs --out)")
    report.add_argument("--out", default=None,
                        help=f"the page to write (default for one run: RUN_DIR/{REPORT})")
    report.set_defaults(run=run)


def run(arguments):
    runs, out = arguments.runs, arguments.out
    # the page may go in a run folder, never over one of the files it is made from
    check_outputs([("--out", out)], inputs=[("RUN_DIR", os.path.join(folder, piece))
                                            for folder in runs for piece in PIECES])
    if len(runs) == 1:
        path = write_report(runs[0], out)
    else:
        path = write_comparison(runs, out)
    print(path)
    return 0
