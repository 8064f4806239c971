"""Open a report in headless Chromium, offline, and say what is wrong with it.

    python -m tests.browser runs/ahe/report.html docs/figures/report.png

    check = check_page("runs/ahe/report.html", sections=SECTIONS, screenshot="shot.png")
    check.problems()    # [] for a good page

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe``:
it reads commands from file descriptor 3 and writes answers and events to 4,
each message one JSON object ending in a NUL byte. No driver, no websocket
library, no browser download: Debian's ``chromium`` package is enough.

The network is closed three ways: every http(s)/ws(s)/ftp URL is blocked
(Network.setBlockedURLs), host names resolve nowhere (--host-resolver-rules),
and any request the page makes for something other than a file: or data: URL
is a problem in itself, blocked or not. The checks:

* no console error, no uncaught exception, no failed load, no network request;
* every section id given is on the page;
* every chart (``figure.chart``) holds an SVG whose series lines (``g[id^=series]``)
  are drawn: their path (not a marker's definition) of non-zero length, with a bounding box on the page;
* the page's own script ran to its end (``data-ready`` on <html>);
* a full-page screenshot is saved where asked.
"""
import base64
import dataclasses
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BLOCKED = ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]
LOCAL_SCHEMES = ("file:", "data:", "about:")
TIMEOUT = 60.0
WIDTH = 1300

# Runs in the page: what the checks need, as one JSON-ready object.
INSPECT = """(() => {
  const charts = Array.from(document.querySelectorAll("figure.chart")).map(chart => {
    const lines = Array.from(chart.querySelectorAll("svg g[id^=series] > path"));
    const drawn = lines.filter(path => {
      const box = path.getBoundingClientRect();
      return path.getTotalLength() > 0 && box.width > 0 && box.height + box.width > 1;
    });
    return {id: chart.id, svg: chart.querySelector("svg") !== null, lines: lines.length,
            drawn: drawn.length};
  });
  return {ids: Array.from(document.querySelectorAll("[id]")).map(node => node.id),
          charts: charts, ready: document.documentElement.dataset.ready === "yes",
          title: document.title};
})()"""


class BrowserError(RuntimeError):
    """Chromium could not be started, or did not answer."""


def find_browser():
    """The path of a Chromium on PATH, or None."""
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


@dataclasses.dataclass
class PageCheck:
    """What the browser saw."""
    console_errors: list
    failed_requests: list
    network_requests: list
    missing_sections: list
    charts: list
    ready: bool
    screenshot: str = None

    def blank_charts(self):
        return [chart["id"] for chart in self.charts
                if not chart["svg"] or chart["lines"] == 0 or chart["drawn"] < chart["lines"]]

    def problems(self):
        """One line per problem; [] for a page that passes."""
        found = [f"console error: {text}" for text in self.console_errors]
        found += [f"failed request: {text}" for text in self.failed_requests]
        found += [f"network request: {url}" for url in self.network_requests]
        found += [f"missing section: #{name}" for name in self.missing_sections]
        found += [f"chart not drawn: #{name}" for name in self.blank_charts()]
        if not self.ready:
            found.append("the page's script did not run to its end")
        return found


class DevToolsPipe:
    """Chromium's DevTools protocol over its pipe: send a command, read its answer."""

    def __init__(self, browser, profile):
        commands_read, self.commands = os.pipe()
        self.answers, answers_write = os.pipe()

        def onto_fds_3_and_4():   # in the child, before exec: Chromium's pipe descriptors
            high_read = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            high_write = fcntl.fcntl(answers_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        # Chromium's own log goes to a file: a pipe nobody reads would fill and stall it
        self.log_path = os.path.join(profile, "chromium.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
             f"--window-size={WIDTH},900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            preexec_fn=onto_fds_3_and_4, pass_fds=(3, 4))
        os.close(commands_read)
        os.close(answers_write)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=TIMEOUT):
        """Run one command -> its result (dict); events read meanwhile go to self.events."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise self.ended() from None
        deadline = time.monotonic() + timeout
        while True:
            answer = self.read(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method, timeout=TIMEOUT):
        """Read until the event ``method`` arrives (or was read already) -> its params."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event.get("params", {})
            self.events.append(self.read(deadline))

    def read(self, deadline):
        import select
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise BrowserError("Chromium did not answer within "
                                   f"{TIMEOUT:.0f} s")
            chunk = os.read(self.answers, 1 << 20)
            if not chunk:
                raise self.ended()
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def ended(self):
        """The BrowserError for a Chromium that closed its pipe, with the end of its log."""
        try:
            status = self.process.wait(timeout=5)   # the pipe closes as it exits
        except subprocess.TimeoutExpired:
            status = "none yet"
        with open(self.log_path, "rb") as log:
            tail = log.read().decode(errors="replace")[-800:]
        return BrowserError(f"Chromium closed its DevTools pipe (exit status {status}): "
                            f"{tail or 'it logged nothing'}")

    def close(self):
        try:
            os.write(self.commands, json.dumps({"id": 0, "method": "Browser.close"}).encode()
                     + b"\0")
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.commands)
        os.close(self.answers)
        self.log.close()


def check_page(page, sections, screenshot=None, browser=None, settle=0.5, blocked=BLOCKED):
    """Load ``page`` (an HTML file) offline in headless Chromium -> PageCheck.

    ``blocked``: the URL patterns DevTools refuses before the page's own
    Content-Security-Policy sees them (() leaves the refusing to the page).
    """
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError(f"no Chromium on PATH (looked for {', '.join(BROWSERS)})")
    url = pathlib.Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="minicnn-chromium-") as profile:
        pipe = DevToolsPipe(browser, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target,
                                                          "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Network.setBlockedURLs", {"urls": list(blocked)}, session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                      session=session)
            pipe.events.clear()
            pipe.send("Page.navigate", {"url": url}, session=session)
            pipe.wait_for("Page.loadEventFired")
            time.sleep(settle)   # a late error (a timer, an image decoding) still counts
            seen = pipe.send("Runtime.evaluate", {"expression": INSPECT, "returnByValue": True},
                             session=session)["result"]["value"]
            if screenshot:
                save_screenshot(pipe, session, screenshot)
            events = list(pipe.events)
        finally:
            pipe.close()
    console_errors, failed, network = read_events(events)
    return PageCheck(console_errors=console_errors, failed_requests=failed,
                     network_requests=network,
                     missing_sections=[name for name in sections if name not in seen["ids"]],
                     charts=seen["charts"], ready=seen["ready"], screenshot=screenshot)


def read_events(events):
    """(console errors, failed requests, requests for non-local URLs) from DevTools events."""
    console_errors, failed, network, urls = [], [], [], {}
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            console_errors.append(f"uncaught {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            console_errors.append(" ".join(str(arg.get("value", arg.get("description", "")))
                                           for arg in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            console_errors.append(f"{entry.get('source')}: {entry.get('text')} "
                                  f"{entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed":
            why = params.get("blockedReason") or params.get("errorText") or "failed"
            failed.append(f"{urls.get(params.get('requestId'), '?')[:120]} ({why})")
        elif method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            urls[params.get("requestId")] = request_url
            if not request_url.startswith(LOCAL_SCHEMES):
                network.append(request_url)
    return console_errors, failed, network


def save_screenshot(pipe, session, path):
    """The whole page, as a PNG at ``path``."""
    size = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = pipe.send("Page.captureScreenshot",
                     {"format": "png", "captureBeyondViewport": True,
                      "clip": {"x": 0, "y": 0, "width": WIDTH, "height": size["height"],
                               "scale": 1}}, session=session)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as file:
        file.write(base64.b64decode(shot["data"]))


def main(argv=None):
    """python -m tests.browser REPORT.html [SCREENSHOT.png]: exit 1 when the page has problems."""
    from minicnn.report import SECTIONS
    argv = sys.argv[1:] if argv is None else argv
    if not 1 <= len(argv) <= 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    check = check_page(argv[0], [name for name, _ in SECTIONS],
                       screenshot=argv[1] if len(argv) == 2 else None)
    for problem in check.problems():
        print(problem)
    charts = len(check.charts) - len(check.blank_charts())
    print(f"{argv[0]}: {len(check.problems())} problems, {charts} of {len(check.charts)} charts "
          f"drawn" + (f"; screenshot {check.screenshot}" if check.screenshot else ""))
    return 1 if check.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
