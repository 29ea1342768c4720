"""The summary's chart: activities per month, stacked by work area, as a PNG.

Drawn on a bare `matplotlib.figure.Figure` with the Agg canvas: no pyplot, no global
backend switch, no rcParams changes, so it is safe next to any other matplotlib user.
Chinese text uses a CJK font file shipped in the mplfonts package, addressed by path, so
the result never depends on the fonts installed on the machine (no tofu boxes).
"""

from __future__ import annotations

import importlib.util
import io
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from bot.summary.model import MonthCount

__all__ = [
    "CJK_FONT_FILE",
    "COLOURS",
    "Y_LABEL",
    "activity_chart",
    "activity_figure",
    "area_colours",
    "cjk_font",
    "cjk_font_path",
]

CJK_FONT_FILE: Final = "NotoSansCJKsc-Regular.otf"
WIDTH_CM: Final = 16.0
HEIGHT_CM: Final = 9.0
DPI: Final = 150
# Qualitative colours, the first eight each of a different hue family (a 30° sector of the
# colour wheel: no two blues), mostly Okabe-Ito's colour-blind-safe set; then more. The
# catch-all area is always grey.
COLOURS: Final = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#2CA02C",  # green
    "#9467BD",  # purple
    "#BCBD22",  # olive
    "#56B4E9",  # sky blue
    "#8C564B",  # brown
    "#F0E442",  # yellow
    "#000000",  # black
)
OTHER_COLOUR: Final = "#9E9E9E"
OTHER_AREA: Final = "其他"
Y_LABEL: Final = "活动数（项）"


def cjk_font_path() -> Path:
    """The CJK font file inside the installed mplfonts package (found without importing it)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or spec.origin is None:
        raise RuntimeError("the mplfonts package is not installed; it ships the CJK chart font")
    path = Path(spec.origin).parent / "fonts" / CJK_FONT_FILE
    if not path.is_file():
        raise RuntimeError(f"mplfonts has no {CJK_FONT_FILE} at {path}")
    return path


@cache
def cjk_font() -> FontProperties:
    """Font properties that point at the mplfonts CJK file by path."""
    return FontProperties(fname=str(cjk_font_path()))


def _sized(size: float) -> FontProperties:
    font = cjk_font().copy()
    font.set_size(size)
    return font


def _month_keys(months: Sequence[MonthCount]) -> list[str]:
    """Every month from the first to the last given, so that empty months show as gaps."""
    present = sorted({m.month for m in months})
    if not present:
        return []
    year, month = (int(p) for p in present[0].split("-"))
    last_year, last_month = (int(p) for p in present[-1].split("-"))
    keys = []
    while (year, month) <= (last_year, last_month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _month_label(key: str, with_year: bool) -> str:
    year, month = (int(p) for p in key.split("-"))
    return f"{year}年{month}月" if with_year else f"{month}月"


def area_colours(areas: Sequence[str]) -> dict[str, str]:
    """A distinct colour per area, in order; the catch-all area grey."""
    named = [a for a in areas if a != OTHER_AREA]
    colours = {a: COLOURS[i % len(COLOURS)] for i, a in enumerate(named)}
    if OTHER_AREA in areas:
        colours[OTHER_AREA] = OTHER_COLOUR
    return colours


def activity_chart(months: Sequence[MonthCount], title: str) -> bytes:
    """A stacked bar chart of activities (entries) per month by work area, as PNG bytes
    (16 x 9 cm at 150 dpi); see `activity_figure`."""
    figure = activity_figure(months, title)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def activity_figure(months: Sequence[MonthCount], title: str) -> Figure:
    """The chart as a matplotlib Figure: areas keep the order in which `months` first names
    them; the axis says what it counts, activities (活动数), not the sessions an activity
    held."""
    keys = _month_keys(months)
    areas = list(dict.fromkeys(m.area for m in months))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for m in months:
        counts[m.month, m.area] += m.count

    figure = Figure(figsize=(WIDTH_CM / 2.54, HEIGHT_CM / 2.54), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontproperties=_sized(11))
    axes.spines[["top", "right"]].set_visible(False)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(Y_LABEL, fontproperties=_sized(9))
    axes.tick_params(labelsize=8)

    if not keys:
        axes.set_xticks([])
        axes.set_yticks([])
        axes.text(
            0.5,
            0.5,
            "暂无活动记录",
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontproperties=_sized(10),
            color="#666666",
        )
    else:
        positions = list(range(len(keys)))
        bottom = [0] * len(keys)
        colours = area_colours(areas)
        for area in areas:
            values = [counts.get((key, area), 0) for key in keys]
            axes.bar(
                positions,
                values,
                width=0.6,
                bottom=bottom,
                label=area,
                color=colours[area],
                edgecolor="white",
                linewidth=0.5,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for x, total in zip(positions, bottom, strict=True):
            if total:
                axes.annotate(
                    str(total),
                    (x, total),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
        axes.set_ylim(0, max(max(bottom), 1) * 1.12)
        with_year = len({key[:4] for key in keys}) > 1
        axes.set_xticks(
            positions, [_month_label(k, with_year) for k in keys], fontproperties=_sized(9)
        )
        figure.legend(
            loc="outside lower center",
            ncols=min(len(areas), 5),
            prop=_sized(8),
            frameon=False,
        )
    return figure
