"""The benchmark charts (benchmarks/svgchart.py): well-formed SVG, logarithmic axes, the tool's line first in the
legend and thickest, the floor dashed, the same figures giving the same bytes."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from svgchart import LEFT, RIGHT, WIDTH, Series, line_chart  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"
SERIES = [Series("a <peer> & co", [(1_000, 400.0), (100_000, 4_000.0)]),
          Series("floor", [(1_000, 40.0), (10_000, 30.0), (100_000, 30.0)], floor=True),
          Series("gitops-tools", [(1_000, 100.0), (10_000, 90.0), (100_000, 80.0)], tool=True)]


def test_the_chart_is_well_formed_and_the_same_figures_give_the_same_bytes() -> None:
    svg = line_chart("Next version", "commits", "median (ms)", SERIES, note="a note")
    assert svg == line_chart("Next version", "commits", "median (ms)", SERIES, note="a note")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg" and root.find(f"{NS}title").text == "Next version"  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "a <peer> & co" in texts  # escaped in the file, itself when read
    assert "a note" in texts
    assert {"1k", "10k", "100k"} <= set(texts)  # one label per size measured
    assert {"10", "100", "1k", "10k"} <= set(texts)  # the cost axis: powers of ten between the extremes


def test_sizes_sit_on_a_logarithmic_axis_and_the_tool_leads_the_legend() -> None:
    root = ET.fromstring(line_chart("t", "commits", "ms", SERIES))
    lines = {line.get("points"): line for line in root.iter(f"{NS}polyline")}
    tool = next(line for line in lines.values() if line.get("stroke-width") == "3")
    xs = [float(p.split(",")[0]) for p in (tool.get("points") or "").split()]
    plot_w = WIDTH - LEFT - RIGHT
    assert xs == pytest.approx([LEFT, LEFT + plot_w / 2, LEFT + plot_w], abs=0.1)  # 1k, 10k, 100k: evenly apart
    assert [line.get("stroke-dasharray") for line in lines.values()].count("6 4") == 1  # the floor alone
    legend = [t for t in root.iter(f"{NS}text") if t.get("x") == str(LEFT + plot_w + 16 + 28)]
    assert [t.text for t in legend] == ["gitops-tools", "a <peer> & co", "floor"]
    assert legend[0].get("font-weight") == "bold"


@pytest.mark.parametrize("points", [[], [(1_000, 0.0)], [(0.0, 5.0)]])
def test_a_chart_without_points_or_with_a_zero_is_refused(points: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="a chart needs points, every size and cost above zero"):
        line_chart("t", "x", "y", [Series("s", points)])


def test_the_charts_the_readme_shows_are_in_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("bump.svg", "release-1.svg"):
        assert f"docs/img/{name}" in readme
        ET.fromstring((ROOT / "docs/img" / name).read_text())
