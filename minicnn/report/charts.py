"""Line charts for the report: matplotlib draws them as SVG, inline in the page, hoverable.

    svg = line_chart("loss", "cross-entropy", [Series("train", [1, 2], [2.1, 1.7]), ...])

matplotlib draws the chart (axes, ticks, legend: nothing re-written here). On
top of it goes one transparent band per x value, each holding an SVG <title>:
hovering a band, the browser shows every series' value at that epoch, with no
script and no library bundle. Each series' line is the group ``series-<i>``,
so a check can find the drawn lines.

SVG, not PNG: text stays sharp at any zoom and a 4-curve chart is ~20 KB.
"""
import dataclasses
import io
import math
import re

import matplotlib
from markupsafe import Markup, escape
from matplotlib.figure import Figure

WIDTH, HEIGHT = 5.6, 3.2   # inches; at 72 dpi one SVG unit is one point


@dataclasses.dataclass
class Series:
    label: str
    x: list
    y: list          # None where a value is missing (a run without that figure)


def mathtext_safe(text):
    """matplotlib reads "$...$" as mathematics: a run name may hold a dollar sign."""
    return str(text).replace("$", r"\$")


def line_chart(title, ylabel, series, xlabel="epoch", value_format="{:.4g}", log_y=False):
    """An SVG chart (Markup, for the template) of ``series`` over a shared x axis."""
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=72)
    axes = figure.subplots()
    for index, one in enumerate(series):
        points = [(x, y) for x, y in zip(one.x, one.y) if y is not None and math.isfinite(y)]
        (line,) = axes.plot([x for x, _ in points], [y for _, y in points], marker="o",
                            markersize=3, linewidth=1.6, label=mathtext_safe(one.label))
        line.set_gid(f"series-{index}")
    if log_y:
        axes.set_yscale("log")
    axes.set(title=mathtext_safe(title), xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    if len(series) > 1:
        axes.legend(fontsize="small")
    axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.StringIO()
    # text as <text> (not glyph outlines): a third of the size. The hash salt makes the
    # ids (clip paths, markers) the same on every run, and different between the charts of
    # one page. rc_context restores the settings on leaving.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"minicnn {title}"}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]   # drop the XML declaration and DOCTYPE: it goes inline
    # and the RDF metadata: a timestamp and licence URLs, nothing the reader sees
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, count=1, flags=re.S)
    overlay = hover_bands(figure, axes, series, value_format)
    return Markup(svg.replace("</svg>", overlay + "</svg>"))


def hover_bands(figure, axes, series, value_format):
    """One transparent <rect> per x value across the axes, titled with every series' value."""
    xs = sorted({x for one in series for x in one.x})
    if not xs:
        return ""
    height = figure.bbox.height   # display units are points at dpi 72, y upwards
    box = axes.get_window_extent()
    centres = [axes.transData.transform((x, axes.get_ylim()[0]))[0] for x in xs]
    edges = ([box.x0] + [(left + right) / 2 for left, right in zip(centres, centres[1:])]
             + [box.x1])
    bands = []
    for x, left, right in zip(xs, edges, edges[1:]):
        values = []
        for one in series:
            by_x = dict(zip(one.x, one.y))
            value = by_x.get(x)
            shown = "-" if value is None else value_format.format(value)
            values.append(f"{one.label}: {shown}")
        text = escape(f"epoch {x}\n" + "\n".join(values))
        bands.append(f'<rect x="{left:.1f}" y="{height - box.y1:.1f}" width="{right - left:.1f}" '
                     f'height="{box.height:.1f}"><title>{text}</title></rect>')
    return f'<g class="hover">{"".join(bands)}</g>'
