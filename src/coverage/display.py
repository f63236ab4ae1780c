"""Helpers for showing results in a notebook: a CJK font for matplotlib in one line, maps side
by side, and the problem report as a table.

matplotlib and IPython are imported only when a helper is called (neither is a dependency of
the package; the notebook extras install them).
"""

from __future__ import annotations

import html
from typing import Any, Sequence

#: CJK fonts tried in order (Debian/Ubuntu, Noto/Source Han, Windows, macOS).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC")
#: Parts of font file names of those fonts, for fonts installed after matplotlib built its cache.
_CJK_FILES = ("wqy", "notosanscjk", "sourcehansans", "notosanssc", "msyh", "simhei", "pingfang")

_cjk_font: str | None = None


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese labels with the first CJK font installed; returns its name,
    or None when the machine has none (labels then fall back to :func:`label`'s English).

    >>> import eldercare_coverage as ec
    >>> ec.use_cjk_font()  # doctest: +SKIP
    'WenQuanYi Micro Hei'
    """
    global _cjk_font
    import matplotlib
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    if not any(name in have for name in CJK_FONTS):
        # a font installed after matplotlib built its font cache is not in it: add the files
        for path in font_manager.findSystemFonts():
            if any(key in path.lower().replace("-", "").replace("_", "") for key in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        have = {f.name for f in font_manager.fontManager.ttflist}
    _cjk_font = next((name for name in CJK_FONTS if name in have), None)
    if _cjk_font:
        families = [f for f in matplotlib.rcParams["font.sans-serif"] if f != _cjk_font]
        matplotlib.rcParams["font.sans-serif"] = [_cjk_font, *families]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack the minus glyph
    return _cjk_font


def label(zh: str, en: str) -> str:
    """A bilingual plot label ("zh / en"), English only when :func:`use_cjk_font` found no font."""
    return f"{zh} / {en}" if _cjk_font else en


def side_by_side(maps: Sequence[Any], titles: Sequence[str] = (), height_px: int = 480):
    """Folium maps next to each other in a notebook (each in its own frame, so their layers and
    scripts stay apart). Titles are escaped text."""
    from IPython.display import HTML

    cells = []
    for k, m in enumerate(maps):
        title = html.escape(str(titles[k])) if k < len(titles) else ""
        doc = html.escape(m.get_root().render(), quote=True)
        cells.append(f'<div style="flex:1;min-width:0"><div style="font-weight:600;margin:2px 0">{title}</div>'
                     f'<iframe srcdoc="{doc}" style="width:100%;height:{int(height_px)}px;border:1px solid #ccc">'
                     "</iframe></div>")
    return HTML(f'<div style="display:flex;gap:8px">{"".join(cells)}</div>')


def problems_table(report, language: str | None = None) -> "Any":
    """The problems of a :class:`eldercare_coverage.errors.ProblemReport` as a DataFrame
    (severity, file, row, field, message, fix), one row each, in ``language`` (default: the
    report's, which is the study's)."""
    import pandas as pd

    from .messages import Text

    lang = language or report.language
    rows = [{"severity": p.severity, "file": p.file,
             "row": p.row.render(lang) if hasattr(p.row, "render") else p.row, "field": p.field,
             "message": Text(p.code, **p.params).render(lang), "fix": Text(p.code, **p.params).fix(lang)}
            for p in report.problems]
    cols = ["severity", "file", "row", "field", "message", "fix"]
    return pd.DataFrame(rows, columns=cols).fillna("")
