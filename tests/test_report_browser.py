"""The report as a reader sees it: opened in headless Chromium, offline (tests/browser.py).

Chromium is Debian's ``chromium`` package (.ci/run installs it). Where it is
absent the tests skip, saying so, except under CI or MINICNN_REQUIRE_BROWSER,
where a missing browser is a failure: the check must not pass by not running.
The screenshot of the good page is kept as an artefact, in
$MINICNN_TEST_ARTEFACTS when that is set.
"""
import os
import re
import shutil

import pytest

from minicnn.report import SECTIONS

from .browser import BrowserError, check_page, find_browser
from .report_runs import trained_run

SECTION_IDS = [name for name, _ in SECTIONS]


@pytest.fixture(scope="module")
def browser():
    path = find_browser()
    if path is None:
        reason = ("no Chromium on PATH (chromium, chromium-browser, google-chrome): the report's "
                  "browser check needs Debian's chromium package (apt-get install chromium)")
        if os.environ.get("CI") or os.environ.get("MINICNN_REQUIRE_BROWSER"):
            pytest.fail(reason + "; CI / MINICNN_REQUIRE_BROWSER is set, so this is a failure")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """report.html of a real two-epoch training run (train_ahe.py on 30 tiny JPEGs)."""
    folder, result = trained_run(tmp_path_factory.mktemp("report") / "run")
    assert result.returncode == 0, result.stderr[-2000:]
    return os.path.join(folder, "report.html")


def broken_copy(report, tmp_path, replace, by, count=1):
    """A copy of the page with ``replace`` (a regular expression) replaced ``count`` times."""
    with open(report, encoding="utf-8") as file:
        text = file.read()
    broken, made = re.subn(replace, by, text, count=count)
    assert made == count, f"{replace!r} not found in the page"
    path = tmp_path / "broken.html"
    path.write_text(broken, encoding="utf-8")
    return path


def test_the_default_runs_report_opens_offline_with_every_section_and_chart(browser, report,
                                                                            tmp_path):
    artefacts = os.environ.get("MINICNN_TEST_ARTEFACTS") or str(tmp_path)
    screenshot = os.path.join(artefacts, "report.png")
    check = check_page(report, SECTION_IDS, screenshot=screenshot, browser=browser)
    assert check.problems() == []
    assert [chart["id"] for chart in check.charts] == ["chart-loss", "chart-accuracy",
                                                       "chart-macro-f1", "chart-lr"]
    assert all(chart["drawn"] >= 1 for chart in check.charts)
    with open(screenshot, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(screenshot) > 20_000   # a page, not a blank rectangle


def test_the_check_fails_on_a_missing_section(browser, report, tmp_path):
    page = broken_copy(report, tmp_path, r'<section id="confused-pairs">', "<section>")
    assert check_page(page, SECTION_IDS, browser=browser).problems() == [
        "missing section: #confused-pairs"]


def test_the_check_fails_on_a_script_error(browser, report, tmp_path):
    page = broken_copy(report, tmp_path, r"</body>", "<script>notDefined();</script></body>")
    problems = check_page(page, SECTION_IDS, browser=browser).problems()
    assert any(problem.startswith("console error: uncaught ReferenceError: notDefined")
               for problem in problems), problems


def test_the_check_fails_on_a_script_that_stops_the_page_script(browser, report, tmp_path):
    # the page's own script breaks before its end: the error, and the missing ready mark
    page = broken_copy(report, tmp_path, r'document\.documentElement\.dataset\.ready = "yes";',
                       'null.x; document.documentElement.dataset.ready = "yes";')
    problems = check_page(page, SECTION_IDS, browser=browser).problems()
    assert "the page's script did not run to its end" in problems
    assert any("TypeError" in problem for problem in problems), problems


def test_the_check_fails_on_a_network_request(browser, report, tmp_path):
    page = broken_copy(report, tmp_path, r"</main>",
                       '<img src="http://example.com/pixel.png"></main>')
    problems = check_page(page, SECTION_IDS, browser=browser).problems()
    assert problems == ["failed request: http://example.com/pixel.png (inspector)",
                        "network request: http://example.com/pixel.png"]
    # with DevTools not blocking it, the page's own Content-Security-Policy refuses it
    problems = check_page(page, SECTION_IDS, browser=browser, blocked=()).problems()
    assert "failed request: http://example.com/pixel.png (csp)" in problems
    assert any("violates the following Content Security Policy directive" in problem
               for problem in problems), problems


def test_the_check_fails_on_a_chart_with_nothing_drawn(browser, report, tmp_path):
    page = broken_copy(report, tmp_path, r'(<g id="series-0">\s*<path d=")[^"]*"', r'\1"')
    problems = check_page(page, SECTION_IDS, browser=browser).problems()
    assert problems == ["chart not drawn: #chart-loss"]


def test_the_report_loads_when_its_folder_moves(browser, report, tmp_path):
    # self-contained: the page alone, away from the run folder, is the same page
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.copy(report, moved)
    assert check_page(moved, SECTION_IDS, browser=browser).problems() == []


def test_a_browser_that_does_not_start_is_a_clear_error(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><title>x</title>")
    with pytest.raises(BrowserError, match=r"Chromium closed its DevTools pipe \(exit status 1\)"):
        check_page(page, SECTION_IDS, browser=shutil.which("false"))


def test_the_comparison_page_opens_offline_with_every_curve_drawn(browser, tmp_path):
    from minicnn.report import write_comparison
    from minicnn.report.page import COMPARISON_SECTIONS

    from .report_runs import synthetic_run
    folders = [synthetic_run(tmp_path / name, epochs=epochs, seed=seed)
               for name, epochs, seed in (("a", 3, 0), ("b", 5, 1))]
    page = write_comparison(folders, tmp_path / "compare.html")
    check = check_page(page, [name for name, _ in COMPARISON_SECTIONS], browser=browser)
    assert check.problems() == []
    assert len(check.charts) == 5 and all(chart["drawn"] == 2 for chart in check.charts)
