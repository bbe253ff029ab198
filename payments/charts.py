"""Server-rendered SVG bar charts for the staff dashboard (issue 6 point 4): the geometry is
computed here from the numbers and drawn in templates/staff/partials/chart.html by
chart_columns.html (vertical bars, for days, months and years) or chart_bars.html (horizontal
bars, for named kinds). No JavaScript, no CDN; each chart has a <title> and a <desc>, and the
page puts a table of the same numbers beside it.

Horizontal positions are percentages of the chart's width and heights are pixels, with no
viewBox: the text keeps its size at any width (1280 px or a 390 px phone) instead of shrinking
with the drawing, and the bars stretch to the room there is."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

DESC_ALL_ZERO = _("共%(count)s项，均为0")
DESC = _("共%(count)s项，合计%(total)s%(unit)s；最高：%(label)s，%(top)s%(unit)s")
AXIS_TOP = _("刻度最高 %(value)s%(unit)s")
# A value with its unit: Chinese writes them together (12项), English with a space (12 items).
VALUE_UNIT = _("%(value)s%(unit)s")

COLUMNS_HEIGHT = 220  # px: the axis label above, the plot, the labels under it
PLOT_TOP, PLOT_BOTTOM = 24, 190
ROW_LABEL, ROW_BAR, ROW_GAP = 18, 22, 12  # px per horizontal bar: its name above the bar
BAR_SPAN = 72  # % of the width the longest horizontal bar takes; the value is written after it


def money(value: Decimal) -> str:
    """1234.5 -> "1,234.50"."""
    return f"{Decimal(value).quantize(Decimal('0.01')):,.2f}"


def _nice_max(value: Decimal | int) -> Decimal:
    """A round top for the axis: 1, 2 or 5 times a power of ten, at least `value`."""
    value = Decimal(value)
    if value <= 1:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    return next(step * magnitude for step in (1, 2, 5, 10) if value <= step * magnitude)


def _value_unit(value: str, unit: str) -> str:
    return _g(VALUE_UNIT) % {"value": value, "unit": unit} if unit else value


def _pct(value: float) -> str:
    return f"{value:.2f}%"


@dataclass(frozen=True)
class Column:
    x: str  # %
    width: str  # %
    y: float  # px
    height: float  # px
    title: str  # tooltip: "label: value"
    label: str  # written under the axis ("" when skipped to save room)
    label_x: str  # %
    label_anchor: str  # start / middle / end: the first and last labels stay inside


@dataclass(frozen=True)
class Bar:
    label: str
    label_y: int  # px, the name's baseline
    y: int  # px, top of the bar
    width: str  # %
    value_text: str
    value_x: str  # %

    @property
    def value_y(self) -> int:
        return self.y + ROW_BAR // 2 + 5


@dataclass(frozen=True)
class Chart:
    title: str
    desc: str
    height: int
    empty: bool
    columns: list[Column]
    bars: list[Bar]
    axis_top: str = ""
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM
    bar_height: int = ROW_BAR

    @property
    def axis_label_y(self) -> int:
        return self.plot_top - 8

    @property
    def label_y(self) -> int:
        return self.plot_bottom + 20

    @property
    def center_y(self) -> int:
        return (self.plot_top + self.plot_bottom) // 2


def _desc(points, fmt, unit: str) -> str:
    total = sum((Decimal(v) for _l, v in points), Decimal(0))
    if not points or total == 0:
        return _g(DESC_ALL_ZERO) % {"count": len(points)}
    top_label, top_value = max(points, key=lambda p: Decimal(p[1]))
    return _g(DESC) % {
        "count": len(points),
        "total": fmt(total),
        "unit": unit,
        "label": top_label,
        "top": fmt(top_value),
    }


def column_chart(
    *, title: str, points: list[tuple[str, Decimal | int]], fmt=str, unit: str = "",
    label_every: int = 1, axis_fmt=None,
) -> Chart:  # fmt: skip
    """Vertical bars in time order. Every `label_every`-th label is written under the axis,
    counted from the newest, which is always written."""
    count = max(len(points), 1)
    top = _nice_max(max((Decimal(v) for _l, v in points), default=Decimal(0)))
    slot = 100 / count
    width = min(slot * 0.75, 12)
    plot_h = PLOT_BOTTOM - PLOT_TOP
    columns = []
    for i, (label, value) in enumerate(points):
        height = round(float(Decimal(value) / top) * plot_h, 2)
        center = (i + 0.5) * slot
        if center < 8:
            label_x, anchor = i * slot, "start"
        elif center > 92:
            label_x, anchor = (i + 1) * slot, "end"
        else:
            label_x, anchor = center, "middle"
        columns.append(
            Column(
                x=_pct(center - width / 2),
                width=_pct(width),
                y=round(PLOT_BOTTOM - height, 2),
                height=height,
                title=f"{label}：{_value_unit(fmt(value), unit)}",
                label=label if (len(points) - 1 - i) % label_every == 0 else "",
                label_x=_pct(label_x),
                label_anchor=anchor,
            )
        )
    empty = not any(Decimal(v) for _l, v in points)
    return Chart(
        title=title,
        desc=_desc(points, fmt, unit),
        height=COLUMNS_HEIGHT,
        empty=empty,
        columns=columns,
        bars=[],
        axis_top="" if empty else _g(AXIS_TOP) % {"value": (axis_fmt or fmt)(top), "unit": unit},
    )


def bar_chart(
    *, title: str, points: list[tuple[str, Decimal | int]], fmt=str, unit: str = ""
) -> Chart:
    """Horizontal bars for named kinds: each name above its bar, the value after the bar."""
    top = max((Decimal(v) for _l, v in points), default=Decimal(0)) or Decimal(1)
    bars = []
    row = ROW_LABEL + ROW_BAR + ROW_GAP
    for i, (label, value) in enumerate(points):
        span = float(Decimal(value) / top) * BAR_SPAN
        bars.append(
            Bar(
                label=label,
                label_y=i * row + ROW_LABEL - 4,
                y=i * row + ROW_LABEL,
                width=_pct(span),
                value_text=_value_unit(fmt(value), unit),
                value_x=_pct(span + 1.5),
            )
        )
    return Chart(
        title=title,
        desc=_desc(points, fmt, unit),
        height=len(points) * row,
        empty=not any(Decimal(v) for _l, v in points),
        columns=[],
        bars=bars,
    )
