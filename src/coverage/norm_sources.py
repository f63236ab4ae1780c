"""Where each norm figure comes from: the policy texts shipped with the profiles, the verbatim
quotes a profile cites for its figures, and the official per-district targets a source publishes.

The texts live in ``eldercare_coverage/profiles/sources/`` (see its README for the documents,
issuers, dates and why they may be copied). A profile's ``[cite."<key>"]`` entry gives, for one
figure, the file, the clause and a verbatim ``quote`` (or ``toolkit_default`` with the reason
when no text stands behind the figure); :func:`quote_found` checks a quote against its file with
whitespace and line breaks ignored, since the texts keep the layout artefacts of extraction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

#: Source file -> (document title with its number, status). Status: "issued", "draft" (征求意见稿)
#: or "exchange_material" (describes practice; not a norm document).
SOURCE_TEXTS: dict[str, tuple[str, str]] = {
    "baoji-2019-pilot-plan.txt": ("宝办字〔2019〕111号《宝鸡市居家和社区养老服务改革试点工作实施方案》", "issued"),
    "lhasa-2020-pilot-plan.txt": ("拉政办发〔2020〕38号《拉萨市居家和社区养老服务改革试点工作实施方案》", "issued"),
    "tibet-2025-division-of-work.txt": (
        "藏民发〔2025〕107号《西藏自治区关于进一步促进养老服务消费提升老年人生活品质的分工方案》", "issued"),
    "yuxi-community-eldercare-draft.txt": ("《玉溪市加快社区养老服务发展实施方案（征求意见稿）》", "draft"),
    "national-2021-exchange-material.txt": ("全国基本养老服务体系建设推进电视电话会议交流材料摘编（2021）",
                                            "exchange_material"),
}
#: How each status is labelled beside a document (zh, en).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "issued": ("正式印发", "issued"),
    "draft": ("征求意见稿（草案，非正式文件）", "draft for comment, not an issued document"),
    "exchange_material": ("交流材料（介绍做法，非规范文件）", "exchange material, not a norm document"),
    "restated": ("无国家文件原文，按地方文件转述", "no national text; as restated by local documents"),
    "user": ("用户规范文件", "user profile file"),
}
# Free text follows the profile convention: the plain key is Chinese, ``<key>_en`` English.
CITE_KEYS = {"file": "text", "clause": "text", "clause_en": "text", "quote": "text", "written": "text",
             "choice": "text", "choice_en": "text", "toolkit_default": "text", "toolkit_default_en": "text"}
NOTE_KEYS = {"file": "text", "clause": "text", "quote": "text", "text": "text", "text_en": "text"}
TARGET_KEYS = {"file": "text", "clause": "text", "quote": "text", "note": "text", "note_en": "text",
               "columns": "list", "rows": "list", "total": "text", "districts": "table"}
#: District-table columns an official target may be compared with.
TARGET_COLUMNS = ("communities", "communities_band_day_care_centre", "communities_band_service_centre",
                  "communities_band_service_station", "existing_day_care_centre", "existing_service_centre",
                  "existing_service_station", "new_day_care_centre", "new_service_centre",
                  "new_service_station", "new_total")


def in_language(zh: str, en: str, language: str) -> str:
    """One text of a plain (Chinese) / ``_en`` (English) pair in ``language``; the other one when
    that is empty, so a profile that writes only one (an older user file with English in the
    plain key) is shown as written."""
    first, other = (zh, en) if language == "zh" else (en, zh)
    return first or other


def field_text(table: Mapping[str, Any], key: str, language: str) -> str:
    """``table[key]`` / ``table[key + "_en"]`` in ``language`` (see :func:`in_language`)."""
    return in_language(str(table.get(key) or ""), str(table.get(f"{key}_en") or ""), language)


@dataclass(frozen=True)
class Citation:
    """The text behind one profile figure: a verbatim quote, or the reason it is a toolkit default."""

    file: str = ""
    #: The clause in Chinese (section numbers and headings as the source prints them).
    clause: str = ""
    #: English wording of the clause, where it carries more than the source's heading.
    clause_en: str = ""
    quote: str = ""
    #: How the figure is written in the quote when not as the plain number (e.g. "万人以上").
    written: str = ""
    #: The reading the profile chose where the text allows two (e.g. a band boundary); zh / en.
    choice: str = ""
    choice_en: str = ""
    #: Why a figure with no source text has its value; zh / en.
    toolkit_default: str = ""
    toolkit_default_en: str = ""

    @property
    def document(self) -> str:
        return SOURCE_TEXTS.get(self.file, (self.file, ""))[0]

    @property
    def status(self) -> str:
        return SOURCE_TEXTS.get(self.file, ("", ""))[1]

    @property
    def is_toolkit_default(self) -> bool:
        return bool(self.toolkit_default or self.toolkit_default_en)

    def describe(self, language: str = "zh") -> str:
        """One line for reports, in ``language``: clause and quote, or the toolkit-default reason."""
        zh = language == "zh"
        if self.is_toolkit_default:
            word = "工具默认值（无原文依据）：" if zh else "toolkit default (no source text): "
            return word + in_language(self.toolkit_default, self.toolkit_default_en, language)
        clause = in_language(self.clause, self.clause_en, language)
        text = f"{clause}「{self.quote}」" if self.quote else clause
        choice = in_language(self.choice, self.choice_en, language)
        if choice:
            text += f" — {'取舍：' if zh else 'choice: '}{choice}"
        return text


@dataclass(frozen=True)
class Note:
    """A published target or figure a profile carries as information (no check is made)."""

    text: str
    text_en: str = ""
    file: str = ""
    clause: str = ""
    quote: str = ""


@dataclass(frozen=True)
class OfficialTargets:
    """A source's published per-district targets, each row with the quote it was read from."""

    file: str
    clause: str
    quote: str
    #: What the targets are and how they are compared; zh / en.
    note: str = ""
    note_en: str = ""
    #: District name -> {district-table column: official figure}.
    districts: dict[str, dict[str, float]] = field(default_factory=dict)
    #: District name -> the verbatim row (or sentence) the figures were read from.
    quotes: dict[str, str] = field(default_factory=dict)
    #: The source's own total row, {column: figure}, when it prints one.
    total: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Source texts and quotes


def sources_dir():
    return resources.files("eldercare_coverage").joinpath("profiles").joinpath("sources")


@lru_cache(maxsize=None)
def source_text(file: str) -> str:
    """The shipped text of a source file (raises FileNotFoundError for an unknown file)."""
    return sources_dir().joinpath(file).read_text(encoding="utf-8")


def squash(text: str) -> str:
    """Text with all whitespace removed: the extracted texts break lines inside sentences."""
    return re.sub(r"\s+", "", text)


def quote_found(file: str, quote: str) -> bool:
    """Whether ``quote`` occurs verbatim in the shipped text ``file`` (whitespace ignored)."""
    return bool(quote.strip()) and squash(quote) in squash(source_text(file))


def parse_citations(raw: dict, default_file: str) -> dict[str, tuple[Citation, ...]]:
    """``[cite."<key>"]`` tables (or arrays of tables) of one profile file, by figure key."""
    out: dict[str, tuple[Citation, ...]] = {}
    for key, body in (raw.get("cite") or {}).items():
        items = body if isinstance(body, list) else [body]
        out[key] = tuple(Citation(**({"file": default_file} | {k: str(v) for k, v in item.items()}))
                         for item in items if isinstance(item, dict))
    return out


def parse_notes(raw: dict, default_file: str) -> tuple[Note, ...]:
    return tuple(Note(**({"file": default_file} | {k: str(v) for k, v in n.items()}))
                 for n in raw.get("notes") or [] if isinstance(n, dict) and "text" in n)


def parse_official_targets(raw: dict, default_file: str) -> OfficialTargets | None:
    """``[official_targets]``: rows printed as in the source (fields split on whitespace and named
    by ``columns``; ``"district"`` is the key, ``""`` a field not compared) and/or
    ``[official_targets.districts."<name>"]`` tables of figures with their own ``quote``."""
    body = raw.get("official_targets")
    if not isinstance(body, dict):
        return None
    columns = list(body.get("columns", []))
    districts: dict[str, dict[str, float]] = {}
    quotes: dict[str, str] = {}
    for row in body.get("rows", []):
        fields = split_row(row)
        rec = dict(zip(columns, fields))
        name = rec.get("district", "")
        districts[name] = {c: float(v) for c, v in rec.items() if c in TARGET_COLUMNS and v != ""}
        quotes[name] = row
    for name, figures in (body.get("districts") or {}).items():
        districts[name] = {c: float(v) for c, v in figures.items() if c in TARGET_COLUMNS}
        quotes[name] = str(figures.get("quote", ""))
    total = {}
    if body.get("total"):
        total = {c: float(v) for c, v in zip(columns, split_row(body["total"])) if c in TARGET_COLUMNS and v != ""}
    return OfficialTargets(file=str(body.get("file", default_file)), clause=str(body.get("clause", "")),
                           quote=str(body.get("quote", "")), note=str(body.get("note", "")),
                           note_en=str(body.get("note_en", "")), districts=districts, quotes=quotes, total=total)


def split_row(row: str) -> list[str]:
    """Fields of a printed table row (tab-separated; an empty field between two tabs is kept)."""
    fields = [f.strip() for f in row.split("\t")]
    return [f for i, f in enumerate(fields) if f or (0 < i < len(fields) - 1)]


# ---------------------------------------------------------------------------------------------
# Official targets beside the rule


def district_key(name: str) -> str:
    """Name used to match a study district with a target row: 凤翔县 and 凤翔区 (renamed 2021)
    match, 凤县 and 凤翔县 do not."""
    text = str(name).strip()
    return text[:-1] if len(text) > 2 and text[-1] in "区县市" else text


#: Start of an ``official_row_check`` value.
ROW_CHECK_LEAD = "row not reproducible by the banding rule"


def row_consistency(figures: dict[str, float]) -> str:
    """Why a target row cannot be reproduced by a one-facility-per-community banding rule
    ("" when it can): more new facilities of a tier than communities in its band, or existing
    plus new facilities not summing to the communities. Data form with column ids, the same in
    every study language (the reports label it: ``report.display_value``)."""
    problems = []
    for tier in ("day_care_centre", "service_centre", "service_station"):
        new, band = figures.get(f"new_{tier}"), figures.get(f"communities_band_{tier}")
        if new is not None and band is not None and new > band:
            problems.append(f"new_{tier} {new:g} > communities_band_{tier} {band:g}")
    parts = [figures.get(c) for c in ("existing_day_care_centre", "new_day_care_centre", "new_service_centre",
                                      "new_service_station")]
    if all(p is not None for p in parts) and "communities" in figures and sum(parts) != figures["communities"]:
        problems.append(f"existing + new = {sum(parts):g} ≠ communities {figures['communities']:g}")
    if not problems:
        return ""
    return f"{ROW_CHECK_LEAD}: " + "; ".join(problems)


def compare_official_targets(table: pd.DataFrame, targets: OfficialTargets) -> pd.DataFrame:
    """``table`` (a district roll-up) with ``official_<column>`` beside the rule's figures for the
    districts the targets name, ``official_differences`` listing every figure that differs and
    ``official_row_check`` when the official row cannot come from the banding rule at all.

    Districts match by :func:`district_key`. Returns ``table`` unchanged when no district matches.
    """
    by_key = {district_key(name): name for name in targets.districts}
    names = table["district"].astype(str)
    matched = names.map(lambda n: by_key.get(district_key(n), "")).where(table["row_type"] == "group", "")
    if not (matched != "").any():
        return table
    out = table.copy()
    cols = [c for c in TARGET_COLUMNS if any(c in figs for figs in targets.districts.values())]
    for c in cols:
        out[f"official_{c}"] = matched.map(lambda m, c=c: targets.districts.get(m, {}).get(c, np.nan)).astype(float)

    # Data form, the same in every study language (CSV keeps column ids); the workbook and
    # the HTML report show it with the columns' labels (report.display_value).
    def differences(i: int) -> str:
        if not matched.iloc[i]:
            return ""
        figs = targets.districts[matched.iloc[i]]
        diffs = [f"{c}: rule {out[c].iloc[i]:g} / official {v:g}" for c, v in figs.items()
                 if c in out and not np.isclose(float(out[c].iloc[i]), v)]
        return "; ".join(diffs)

    out["official_target_district"] = matched.to_numpy()
    out["official_differences"] = [differences(i) for i in range(len(out))]
    out["official_row_check"] = matched.map(
        lambda m: row_consistency(targets.districts[m]) if m else "").to_numpy()
    return out
