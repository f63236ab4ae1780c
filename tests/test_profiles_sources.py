"""Every figure of every shipped norm profile stands on a verbatim quote of its source text (or is
labelled a toolkit default), titles and document numbers are exact, and official targets are
compared with the rule.

The source texts are the copies shipped with the profiles (eldercare_coverage/profiles/sources/,
attribution in its README); the tests never read the project's shared folder.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from eldercare_coverage import norm_sources, norms, report
from eldercare_coverage.norm_sources import SOURCE_TEXTS, quote_found, source_text, squash

PROFILES = norms.shipped_profile_names()
#: Keys that describe a profile rather than state a figure.
_DESCRIPTIVE = ("title", "title_en")


def figures(profile: norms.NormProfile) -> dict[str, object]:
    return {k: v for k, (v, _) in profile.values.items() if not k.startswith("source.") and k not in _DESCRIPTIVE}


def test_the_shipped_texts_are_the_documents_named():
    assert set(PROFILES) == {"national", "baoji", "yuxi", "lhasa", "beijing", "tianjin_hexi"}
    shipped = {p.name for p in norm_sources.sources_dir().iterdir() if p.name.endswith(".txt")}
    assert shipped == set(SOURCE_TEXTS)
    # each document number or title as listed occurs in its text
    for file, (document, _) in SOURCE_TEXTS.items():
        number = re.search(r"[\u4e00-\u9fff]+〔\d{4}〕\d+号", document)
        quoted = re.search(r"《(.+?)》", document)
        title = quoted.group(1) if quoted else document.split("（")[0]
        text = squash(source_text(file))
        if number:
            assert squash(number.group(0)) in text, (file, number.group(0))
        assert squash(title) in text, (file, title)


@pytest.mark.parametrize("name", PROFILES)
def test_every_figure_is_quoted_verbatim_or_labelled_a_toolkit_default(name):
    profile = norms.load_profile(name)
    assert figures(profile), name
    for key, value in figures(profile).items():
        cites = profile.citations.get(key, ())
        assert cites, f"{name}: {key} = {value!r} has no [cite] entry"
        for c in cites:
            assert bool(c.quote) != bool(c.toolkit_default), f"{name}: {key}: a quote or a toolkit default, not both"
            if c.quote:
                assert c.file in SOURCE_TEXTS, f"{name}: {key}: unknown source file {c.file!r}"
                assert quote_found(c.file, c.quote), f"{name}: {key}: quote not in {c.file}: {c.quote}"
                assert c.clause, f"{name}: {key}: the clause is not named"
        quoted = [c for c in cites if c.quote]
        if quoted:
            # the figure itself is in a quote, as written there (e.g. 70万元 for 700000)
            assert any(squash(c.written or norms._fmt(value)) in squash(c.quote) for c in quoted), \
                f"{name}: {key} = {value!r} is not in its quote"


@pytest.mark.parametrize("name", PROFILES)
def test_targets_and_notes_are_quoted_verbatim(name):
    profile = norms.load_profile(name)
    for n in profile.notes:
        assert quote_found(n.file, n.quote), (name, n.quote)
    t = profile.official_targets
    if t is not None:
        assert quote_found(t.file, t.quote)
        for district, row in t.quotes.items():
            assert quote_found(t.file, row), (name, district, row)


def test_titles_numbers_and_status_are_exact():
    listing = norms.list_profiles().set_index("name")
    baoji = listing.loc["baoji", "source_document"]
    assert "宝办字〔2019〕111号" in baoji and "附件2 宝鸡市居家和社区养老服务设施建设目标任务表" in baoji
    assert "拉政办发〔2020〕38号" in listing.loc["lhasa", "source_document"]
    assert "征求意见稿" in listing.loc["yuxi", "source_document"] and "征求意见稿" in listing.loc["yuxi", "title"]
    assert listing.loc["yuxi", "status"] == "draft"
    assert "北京市民政局" in listing.loc["beijing", "source_document"]
    assert "中共天津市河西区委" in listing.loc["tianjin_hexi", "source_document"]
    assert "无国家文件原文" in listing.loc["national", "source_document"]
    national = norms.load_profile("national").source
    assert "不在本工具收录的文本中" in national["note"] and "not among our texts" in national["note_en"]


def test_unsupported_figures_are_gone():
    for name in PROFILES:
        p = norms.load_profile(name)
        assert not any(k.startswith("access.walk_speed") for k in p.values), name  # 0.9 m/s is the study's
    for name in ("yuxi", "beijing", "national"):  # their texts state no walk limit
        assert norms.load_profile(name).walk_limit_min(0.9) is None
    bj = norms.load_profile("beijing")
    assert "service_capacity.recipient_share" not in bj.values and bj.recipient_base == "basic_service_recipients"
    hexi = norms.load_profile("tianjin_hexi")
    assert hexi.distance_m == 700 and "access.time_limit_min" not in hexi.values
    assert norms.load_profile("baoji").per_resident_m2 is None  # 人均用地 is land


def test_the_baoji_banding_choice_is_stated_with_its_quote():
    cites = norms.load_profile("baoji").citations
    (c,) = cites["tiers.service_centre.min_population"]
    assert "5000—10000人" in c.quote and "5000人以下" in c.quote
    assert "exactly 5,000 residents in the service-centre band" in c.choice_en
    assert "本配置把恰好5000人的社区归入养老服务中心档" in c.choice
    (c,) = cites["tiers.day_care_centre.min_population"]
    assert c.written == "万人以上" and "exactly 10,000" in c.choice_en and "恰好10000人" in c.choice


def test_reports_label_drafts_quotes_and_toolkit_defaults():
    rules = norms.load_profile("yuxi").rules_table("zh").set_index("key")
    assert "征求意见稿" in rules.loc["area.per_100_households_new_m2", "source_document"]
    assert "每百户不低于 20 平方米" in rules.loc["area.per_100_households_new_m2", "source_clause"]
    assert rules.loc["area.unknown_estate_type", "toolkit_default"]
    assert rules.loc["area.unknown_estate_type", "source_clause"].startswith("工具默认值")
    baoji = norms.load_profile("baoji").rules_table("en").set_index("key")
    assert baoji.loc["land.per_resident_m2", "kind"] == "land"
    assert baoji.loc["tiers.service_centre.max_floor_area_m2", "kind"] == "floor_area"
    assert "人均用地不少于0.1平方米" in baoji.loc["land.per_resident_m2", "source_clause"]


# --- official targets: Baoji annex 2 ------------------------------------------------------------

def annex():
    return norms.load_profile("baoji").official_targets


def test_annex_rows_add_up_to_its_total_row():
    t = annex()
    assert len(t.districts) == 13 and t.total["communities"] == 162
    for col, total in t.total.items():
        assert sum(d[col] for d in t.districts.values()) == total, col
    assert (t.total["communities_band_day_care_centre"], t.total["communities_band_service_centre"],
            t.total["communities_band_service_station"]) == (74, 58, 30)
    assert (t.total["new_day_care_centre"], t.total["new_service_centre"], t.total["new_service_station"]) == (56, 48, 15)


def test_three_annex_rows_cannot_come_from_the_banding_rule():
    flagged = {d for d, figs in annex().districts.items() if norm_sources.row_consistency(figs)}
    assert flagged == {"岐山县", "眉县", "陇县"}
    assert "new_day_care_centre 8 > communities_band_day_care_centre 6" in \
        norm_sources.row_consistency(annex().districts["岐山县"])


def synthetic_annex_study(rename: dict[str, str] | None = None):
    """One 1 km square per community, in the annex's districts and bands (12,000 / 7,000 / 3,000
    residents), with the annex's existing day-care centres placed where the annex's new-facility
    counts imply (in communities of each band that need no new facility)."""
    rows, fac = [], []
    bands = ("day_care_centre", "service_centre", "service_station")
    for district, f in annex().districts.items():
        counts = [int(f[f"communities_band_{b}"]) for b in bands]
        room = [max(min(c - int(f[f"new_{b}"]), c), 0) for c, b in zip(counts, bands)]
        existing = int(f["existing_day_care_centre"])
        while sum(room) > existing:  # more room than centres: trim from the lowest band
            room[max(i for i in range(3) if room[i] > 0)] -= 1
        for i in range(3):
            while sum(room) < existing and room[i] < counts[i]:
                room[i] += 1
        for b, pop, n, with_centre in zip(bands, (12000, 7000, 3000), counts, room):
            for j in range(n):
                rows.append({"district": (rename or {}).get(district, district), "population": pop})
                if j < with_centre:
                    fac.append(len(rows) - 1)
    geoms = [box(i * 1000, 0, i * 1000 + 1000, 1000) for i in range(len(rows))]
    com = gpd.GeoDataFrame([{"community_id": f"C{i}", "name": "", "street": "", "households": np.nan,
                             "elderly_population": np.nan, "estate_type": ""} | r for i, r in enumerate(rows)],
                           geometry=geoms, crs="EPSG:32648")
    facilities = gpd.GeoDataFrame({"facility_id": [f"F{k}" for k in range(len(fac))],
                                   "kind": ["day_care_centre"] * len(fac), "floor_area_m2": [800.0] * len(fac),
                                   "community_id": [f"C{i}" for i in fac]},
                                  geometry=[Point(i * 1000 + 500, 500) for i in fac], crs="EPSG:32648")
    return com, facilities


def test_district_report_shows_the_rule_beside_the_annex_and_flags_differences(tmp_path):
    com, fac = synthetic_annex_study(rename={"凤翔县": "凤翔区"})  # renamed in 2021: still matched
    p = norms.load_profile("baoji")
    t = norms.check_communities(com, fac, p)
    d = norms.rollup(t, fac, p, language="en").set_index("district")
    groups = d[d["row_type"] == "group"]
    assert len(groups) == 13 and (groups["official_target_district"] != "").all()
    assert groups.loc["凤翔区", "official_target_district"] == "凤翔县"
    differing = set(groups.index[groups["official_differences"] != ""])
    assert differing == {"岐山县", "眉县", "陇县"}
    assert set(groups.index[groups["official_row_check"] != ""]) == differing
    # the ten reproducible rows match figure by figure
    for col in ("communities", "communities_band_day_care_centre", "existing_day_care_centre",
                "new_day_care_centre", "new_service_centre", "new_service_station", "new_total"):
        same = groups.drop(index=list(differing))
        assert (same[col] == same[f"official_{col}"]).all(), col
    assert "new_day_care_centre: rule 6 / official 8" in groups.loc["岐山县", "official_differences"]
    assert d.loc["(all)", "official_target_district"] == ""
    # the report carries the comparison with labelled columns
    paths = report.write_reports(t, d.reset_index(), tmp_path, profile=p, parameters={}, input_files=[],
                                 language="zh")
    html = paths["html"].read_text(encoding="utf-8")
    assert "规则结果与官方目标的差异" in html and "官方目标：" in html
    # the differences name the columns in the study language, not by their ids
    assert ">新建日间照料中心：规则 6 / 官方 8；" in html
    assert ">new_day_care_centre: rule" not in html  # the data form stays in data-value only
    assert ">该行无法由分档规则得出：新建日间照料中心 8 &gt; 应配日间照料中心的社区数 6；" in html
    assert "≠ 社区数 15<" in html
    assert "2019年里程碑" in html  # the annex's 2019 milestone is carried as a note


def test_no_official_columns_when_no_district_matches():
    com, fac = synthetic_annex_study(rename={d: f"某区{i}" for i, d in enumerate(annex().districts)})
    p = norms.load_profile("baoji")
    d = norms.rollup(norms.check_communities(com, fac, p), fac, p)
    assert not [c for c in d.columns if c.startswith("official_")]


def test_tianjin_hexi_layout_is_compared_with_the_study_facilities():
    com, _ = synthetic_annex_study(rename={d: "河西区" for d in annex().districts})
    com = com.iloc[:3]
    fac = gpd.GeoDataFrame({"facility_id": ["A", "B"], "kind": ["service_centre", "service_station"],
                            "community_id": ["C0", "C1"]}, geometry=[Point(500, 500), Point(1500, 500)],
                           crs="EPSG:32648")
    p = norms.load_profile("tianjin_hexi")
    d = norms.rollup(norms.check_communities(com, fac, p), fac, p, language="en").set_index("district")
    assert d.loc["河西区", "official_existing_service_centre"] == 45
    assert d.loc["河西区", "official_differences"] == ("existing_service_centre: rule 1 / official 45; "
                                                     "existing_service_station: rule 1 / official 45")


def test_district_key_matches_renamed_districts_but_not_different_counties():
    key = norm_sources.district_key
    assert key("凤翔县") == key("凤翔区") and key("眉县") == "眉县" and key("凤县") != key("凤翔县")


# --- the study language: plain key Chinese, <key>_en English -------------------------------------

#: Three or more English words in a row: a sentence, which a Chinese text must not hold.
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ -][A-Za-z]{2,}){2,}")
#: Free-text keys of a profile shown in the reports; each has a Chinese text and an _en one.
FREE_TEXT = ("title", "document", "note", "choice", "toolkit_default", "text")


def _tables(raw: object, where: str = ""):
    """(place, table) for every table of a parsed TOML file, arrays of tables included."""
    if isinstance(raw, dict):
        yield where, raw
        for key, value in raw.items():
            yield from _tables(value, f"{where}.{key}".lstrip("."))
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            yield from _tables(item, f"{where}[{i}]")


@pytest.mark.parametrize("name", PROFILES)
def test_every_free_text_is_written_in_chinese_and_in_english(name):
    import tomllib

    raw = tomllib.loads(norms._profiles_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8"))
    pairs = 0
    for where, table in _tables(raw):
        for key, value in table.items():
            if key.endswith("_en"):
                assert table.get(key[:-3]), f"{name}: {where}.{key} has no Chinese {key[:-3]}"
            elif key in FREE_TEXT or f"{key}_en" in table:
                assert table.get(f"{key}_en"), f"{name}: {where}.{key} has no {key}_en"
                assert re.search(r"[\u4e00-\u9fff]", value) and not ENGLISH_RUN.search(value), \
                    f"{name}: {where}.{key} is not Chinese: {value}"
                pairs += 1
    assert pairs >= 3, name


@pytest.mark.parametrize("name", PROFILES)
def test_reports_show_each_profile_text_in_the_study_language(name):
    """The parameter rows and the rules table of every shipped profile: no English sentence in
    zh (file names of the source texts are ids), and in en the _en texts, not the Chinese ones."""
    profile = norms.load_profile(name)

    def shown(language: str) -> str:
        rows = report._parameter_rows(profile, {}, language)
        rules = report._rules(profile, language)
        return "\n".join([v for _, v in rows] + rules["source_clause"].tolist() + rules["source_document"].tolist())

    zh = shown("zh")
    for file in SOURCE_TEXTS:
        zh = zh.replace(file, " ")
    assert not ENGLISH_RUN.findall(zh), (name, ENGLISH_RUN.findall(zh)[:5])
    en = shown("en")
    texts = [profile.source.get("note_en", "")]
    texts += [t for cites in profile.citations.values() for c in cites
              for t in (c.choice_en, c.toolkit_default_en, c.clause_en)]
    texts += [n.text_en for n in profile.notes]
    if profile.official_targets is not None:
        texts.append(profile.official_targets.note_en)
    texts = [t for t in texts if t]
    assert texts
    for t in texts:
        assert t in en, (name, t)
    for z in [profile.source.get("note", "")] + [c.choice for cs in profile.citations.values() for c in cs]:
        assert not z or z not in en, (name, z)


def test_an_older_user_profile_with_english_plain_texts_is_shown_as_written(tmp_path):
    """Before the _en keys, a user's note, choice or toolkit default could be English in the plain
    key: it loads, and both languages show it as written."""
    mine = tmp_path / "mine.toml"
    mine.write_text('''extends = "baoji"
[source]
note = "Our own reading of the Baoji plan for the north district."
[tiers.day_care_centre]
min_population = 12000
[cite."tiers.day_care_centre.min_population"]
toolkit_default = "The district board asked for a higher threshold in 2024."
[land]
per_resident_m2 = 0.12
[cite."land.per_resident_m2"]
file = "baoji-2019-pilot-plan.txt"
clause = "二、（一）2. 落实用地供给"
quote = "按照人均用地不少于0.1平方米的标准"
choice = "We plan 0.12 m² per resident, above the minimum."
''', encoding="utf-8")
    profile = norms.load_profile("baoji", mine)
    for language in ("zh", "en"):
        rows = dict(report._parameter_rows(profile, {}, language))
        notes = [v for k, v in rows.items() if "mine.toml" in k]
        assert "Our own reading of the Baoji plan for the north district." in notes
        rules = report._rules(profile, language).set_index("key")
        assert "The district board asked for a higher threshold in 2024." in \
            rules.loc["tiers.day_care_centre.min_population", "source_clause"]
        assert "We plan 0.12 m² per resident, above the minimum." in rules.loc["land.per_resident_m2", "source_clause"]
    # a user file without a document is named in the study language
    zh = dict(report._parameter_rows(profile, {}, "zh"))
    en = dict(report._parameter_rows(profile, {}, "en"))
    assert zh["来源文件 (mine.toml)"] == f"用户规范文件：{mine}"
    assert en["Source document (mine.toml)"] == f"user profile file: {mine}"
