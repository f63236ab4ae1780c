"""Small inline SVG charts for the HTML report: the Lorenz curve of accessibility and service
pressure by facility. Static markup, no scripts; every text that may come from the user
(facility ids and names) is HTML-escaped here, where it enters the page."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

_TEXT = {
    "zh": {"head": "供需可达性（{m}）", "lorenz": "可达性洛伦兹曲线（按{d}加权）", "x": "累计需求比例",
           "y": "累计可达性比例", "equal": "完全均等", "comm": "社区", "dist": "区县",
           "pressure": "各设施服务压力（{d}/{s}）", "gini": "基尼系数：社区 {c}，区县 {k}",
           "below": "可达性低于 {t}（{r}）的{d}比例：{p}", "none": "步行范围内无任何供给的{d}比例：{p}",
           "worst": "可达性最低的社区：{w}", "unit": "单位：{u}", "mean": "全区平均可达性：{m}",
           "given": "设定值", "half": "全区平均的一半",
           "proposed": "选址模型建议的新设施", "greedy": "按可达性目标“{o}”贪心选出的新设施（启发式，非精确最优）",
           "after": "{w}（{ids}）建成后：平均可达性 {m0} → {m1}，社区基尼系数 {g0} → {g1}，低于阈值的{d}比例 {b0} → {b1}",
           "comm_after": "社区（新设施后）"},
    "en": {"head": "Capacity-aware accessibility ({m})", "lorenz": "Lorenz curve of accessibility (weighted by {d})",
           "x": "cumulative share of demand", "y": "cumulative share of accessibility", "equal": "equality",
           "comm": "communities", "dist": "districts", "pressure": "Service pressure by facility ({d} per {s})",
           "gini": "Gini coefficient: communities {c}, districts {k}",
           "below": "Share of {d} below {t} ({r}): {p}", "none": "Share of {d} with no supply within walk: {p}",
           "worst": "Worst-served communities: {w}", "unit": "Unit: {u}", "mean": "Study-wide mean: {m}",
           "given": "given", "half": "half the study-wide mean",
           "proposed": "the siting model's proposed sites",
           "greedy": "sites picked greedily for the accessibility objective '{o}' (a heuristic, not proven optimal)",
           "after": "After {w} ({ids}): mean {m0} → {m1}, community Gini {g0} → {g1}, share of {d} below the "
                    "threshold {b0} → {b1}", "comm_after": "communities (after new sites)"},
}
_DEMAND = {"elderly": ("老年人", "older residents"), "residents": ("居民", "residents"),
           "households": ("户", "households")}
_SUPPLY = {"floor_area": ("m²", "m²"), "beds": ("床", "bed"), "capacity": ("服务能力", "place")}


def lorenz_svg(curves: dict[str, tuple[np.ndarray, np.ndarray]], labels: dict[str, str], *, x_label: str,
               y_label: str, equal_label: str, width: int = 420, height: int = 320) -> str:
    """Lorenz curves (x, y in 0..1) with the line of equality, as an inline ``<svg>``."""
    pad, colors = 48, ("#08519c", "#d94801", "#238b45")
    w, h = width - 2 * pad, height - 2 * pad

    def pts(x, y) -> str:
        return " ".join(f"{pad + w * a:.1f},{pad + h * (1 - b):.1f}" for a, b in zip(x, y))

    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">',
           f'<rect x="{pad}" y="{pad}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
           f'<polyline points="{pts([0, 1], [0, 1])}" fill="none" stroke="#999" stroke-dasharray="4,3"/>']
    legend = [(equal_label, "#999")]
    for (key, (x, y)), color in zip(curves.items(), colors):
        out.append(f'<polyline class="lorenz" data-series="{html.escape(key)}" points="{pts(x, y)}" '
                   f'fill="none" stroke="{color}" stroke-width="2"/>')
        legend.append((labels.get(key, key), color))
    for i, (text, color) in enumerate(legend):
        out.append(f'<text x="{pad + 8}" y="{pad + 16 + 15 * i}" font-size="12" fill="{color}">'
                   f'{html.escape(text)}</text>')
    out.append(f'<text x="{pad + w / 2}" y="{height - 12}" font-size="12" text-anchor="middle">'
               f'{html.escape(x_label)}</text>')
    out.append(f'<text x="14" y="{pad + h / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {pad + h / 2})">{html.escape(y_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_svg(names, values, *, width: int = 520, bar: int = 16, max_bars: int = 40) -> str:
    """Horizontal bars, largest first (at most ``max_bars``; NaN values are left out)."""
    v = np.asarray(values, dtype=float)
    names = np.asarray(names).astype(str)
    keep = np.isfinite(v)
    order = np.argsort(-v[keep], kind="stable")[:max_bars]
    names, v = names[keep][order], v[keep][order]
    label_w, top = 140, 6
    span = width - label_w - 70
    vmax = float(v.max()) if len(v) and v.max() > 0 else 1.0
    height = top * 2 + len(v) * (bar + 4)
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    for i, (name, value) in enumerate(zip(names, v)):
        y = top + i * (bar + 4)
        out.append(f'<text x="{label_w - 6}" y="{y + bar - 4}" font-size="12" text-anchor="end">'
                   f'{html.escape(name)}</text>'
                   f'<rect class="bar" x="{label_w}" y="{y}" width="{span * value / vmax:.1f}" height="{bar}" '
                   f'fill="#f16913" data-value="{value!r}"/>'
                   f'<text x="{label_w + span * value / vmax + 4:.1f}" y="{y + bar - 4}" font-size="11">'
                   f'{value:.3g}</text>')
    out.append("</svg>")
    return "".join(out)


def accessibility_section(tables: Any, language: str = "zh") -> str:
    """The report's accessibility section: equity figures, the Lorenz curve of communities and
    districts, and service pressure by facility
    (:class:`~eldercare_coverage.accessibility.AccessibilityTables`)."""
    i = 0 if language == "zh" else 1
    T = _TEXT["zh" if i == 0 else "en"]
    s = tables.summary
    d = _DEMAND.get(s.get("demand"), ("需求", "demand"))[i]
    sup = _SUPPLY.get(s.get("supply"), ("供给", "supply"))[i]

    def num(x) -> str:
        return "—" if x is None or not np.isfinite(x) else f"{x:.4g}"

    def pct(x) -> str:
        return "—" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"

    worst = ", ".join(s.get("worst_communities", [])[:10]) or "—"
    facts = [T["unit"].format(u=s.get("unit", "") if i else f"{sup}/{d}"), T["mean"].format(m=num(s.get("mean"))),
             T["gini"].format(c=num(s.get("gini_communities")), k=num(s.get("gini_districts"))),
             T["below"].format(d=d, t=num(s.get("threshold")), p=pct(s.get("share_below_threshold")),
                               r=T["given"] if s.get("threshold_rule") == "given" else T["half"]),
             T["none"].format(d=d, p=pct(s.get("share_no_access"))), T["worst"].format(w=worst)]
    curves, names = dict(tables.lorenz), {"communities": T["comm"], "districts": T["dist"]}
    if tables.siting:
        from .accessibility import after_sites, lorenz

        for key, sited in tables.siting.items():
            comm, _, a = after_sites(tables, sited.after)
            who = T[key].format(o=sited.params.get("objective", ""))
            facts.append(T["after"].format(w=who, ids=", ".join(sited.params.get("candidate_ids", [])), d=d,
                                           m0=num(s.get("mean")), m1=num(a["mean"]),
                                           g0=num(s.get("gini_communities")), g1=num(a["gini_communities"]),
                                           b0=pct(s.get("share_below_threshold")), b1=pct(a["share_below_threshold"])))
        curves["after"] = lorenz(comm["accessibility"], comm["demand"])  # the last: greedy when both
        names["after"] = T["comm_after"]
    fac = tables.facilities
    parts = [f'<h2 id="accessibility">{html.escape(T["head"].format(m=s.get("measure", "")))}</h2>',
             '<ul class="accessibility">' + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>",
             f'<h3>{html.escape(T["lorenz"].format(d=d))}</h3>',
             lorenz_svg(curves, names, x_label=T["x"],
                        y_label=T["y"], equal_label=T["equal"]),
             f'<h3>{html.escape(T["pressure"].format(d=d, s=sup))}</h3>',
             bar_svg(fac["facility_id"], fac["pressure"])]
    return "\n".join(parts)
