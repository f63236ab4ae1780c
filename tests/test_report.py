"""Gap reports: CSV, XLSX and HTML written from hand-built tables agree with each other."""

from __future__ import annotations

import math
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely.geometry import Point, box

from eldercare_coverage import norms, report

CRS = "EPSG:32648"
X0, Y0 = 400_000.0, 3_000_000.0
EVIL = "<img src=x onerror=alert(1)>"


def city(name0: str = "东风社区"):
    """Three communities in two districts, four facilities (one outside every community)."""
    com = gpd.GeoDataFrame({
        "community_id": ["A", "B", "C"], "name": [name0, "B&B \"quoted\"", "丙"],
        "district": ["渭滨区", "渭滨区", EVIL], "street": ["S1", "S2", "S3"],
        "population": [12000.0, 5000.0, 3000.0], "households": [4000.0, np.nan, 1000.0],
        "elderly_population": [2400.0, 900.0, 700.0], "estate_type": ["new", "existing", ""],
    }, geometry=[box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(3)], crs=CRS)
    fac = gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3", "F4"], "name": ["x", "y", EVIL, "z"],
        "kind": ["service_centre", "service_station", "day_care_centre", "meal_point"],
        "floor_area_m2": [400.0, 150.0, 800.0, np.nan], "beds": [10.0, 6.0, 20.0, np.nan],
        "capacity": [np.nan] * 4, "community_id": ["", "", "", ""],
    }, geometry=[Point(X0 + 500, Y0 + 500), Point(X0 + 2500, Y0 + 500), Point(X0 - 9000, Y0), Point(X0 + 1500, Y0 + 10)],
        crs=CRS)
    return com, fac


ACCESS = pd.DataFrame({"community_id": ["A", "B", "C"], "residents_within": [9000.0, 1000.0, 3000.0],
                       "elderly_within": [1800.0, 300.0, 700.0], "households_within": [3000.0, np.nan, 1000.0],
                       "share_residents_within": [0.75, 0.2, 1.0], "share_elderly_within": [0.75, 1 / 3, 1.0],
                       "share_households_within": [0.75, np.nan, 1.0], "median_time_min": [9.5, 17.25, 4.0]})


def build(tmp_path: Path, *, profile="baoji", user_file=None, access=ACCESS, language="zh", name0="东风社区"):
    com, fac = city(name0)
    p = norms.load_profile(profile, user_file)
    t = norms.check_communities(com, fac, p, access)
    d = norms.rollup(t, fac, p, by="district")
    s = norms.rollup(t, fac, p, by="street")
    inp = tmp_path / "communities.csv"
    inp.write_bytes(b"abc")
    out = tmp_path / f"reports_{language}"
    paths = report.write_reports(t, d, out, profile=p, language=language, title=f"Study {EVIL}",
                                 parameters={"walk_speed_mps": 0.9, "time_limit_min": 15.0, "profile": p.name,
                                             "note": EVIL},
                                 input_files=[inp, tmp_path / "missing.gpkg"], street_table=s,
                                 unassigned=norms.unassigned_facilities(t, fac))
    return t, d, paths


class Tables(HTMLParser):
    """Collects every <table>: its column codes (data-column) and cells' data-value / text."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.current = None
        self.cell = None
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self.current = {"columns": [], "rows": []}
            self.tables[a.get("id", "")] = self.current
        elif tag == "th" and self.current is not None and "data-column" in a:
            self.current["columns"].append(a["data-column"])
        elif tag == "tr" and self.current is not None:
            self.current["rows"].append([])
        elif tag == "td" and self.current is not None:
            self.cell = {"value": a.get("data-value"), "text": ""}
            self.current["rows"][-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell["text"] += data


def parse(path: Path) -> Tables:
    p = Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def same(a, b) -> bool:
    a_nan = a is None or a == "" or (isinstance(a, float) and math.isnan(a))
    b_nan = b is None or b == "" or (isinstance(b, float) and math.isnan(b))
    if a_nan or b_nan:
        return a_nan and b_nan
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return str(a) == str(b)


def test_csv_is_utf8_bom_with_english_columns_and_round_trips(tmp_path):
    t, d, paths = build(tmp_path)
    for key, table in (("community_csv", t), ("district_csv", d)):
        raw = paths[key].read_bytes()
        assert raw[:3] == b"\xef\xbb\xbf"
        back = pd.read_csv(paths[key], encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        assert list(back.columns) == list(table.columns)
        assert all(c == c.lower() and " " not in c and c.isascii() for c in back.columns)
        for c in table.columns:
            for a, b in zip(table[c].tolist(), back[c].tolist()):
                assert same(a, b) or (isinstance(a, (bool, np.bool_)) and str(a) == str(b)), (key, c, a, b)
    assert "东风社区" in paths["community_csv"].read_text(encoding="utf-8-sig")


def test_csv_columns_do_not_depend_on_language(tmp_path):
    _, _, zh = build(tmp_path, language="zh")
    _, _, en = build(tmp_path, language="en")
    for key in ("community_csv", "district_csv"):
        assert zh[key].read_bytes() == en[key].read_bytes()


def test_xlsx_agrees_with_csv(tmp_path):
    t, d, paths = build(tmp_path)
    wb = load_workbook(paths["xlsx"])
    assert wb.sheetnames == ["区县汇总", "街道汇总", "社区明细", "未落入社区的设施", "规则", "参数与输入文件"]
    p = norms.load_profile("baoji")
    for sheet, table in (("社区明细", t), ("区县汇总", d)):
        ws = wb[sheet]
        top = header_row(ws)
        # frozen under the header and right of the row's name; the title block above it
        assert ws.freeze_panes == ("C" if sheet == "社区明细" else "B") + str(top + 1)
        assert ws["A1"].value and ws["A2"].value.startswith("规范：baoji")
        shown = report._shown_columns(table, p)  # every column of a rule baoji has
        header = [c.value for c in ws[top]]
        assert header == [report.label(c, "zh", p) for c in shown.columns]
        csv = pd.read_csv(paths["community_csv" if sheet == "社区明细" else "district_csv"], encoding="utf-8-sig",
                          keep_default_na=False, na_values=[""])
        rows = list(ws.iter_rows(min_row=top + 1, values_only=True))
        assert len(rows) == len(csv)
        table = shown
        for j, c in enumerate(table.columns):
            if not report._is_number_column(table[c]):
                continue
            for i, v in enumerate(rows):
                assert same(v[j], csv[c].iloc[i]), (sheet, c, i)
        col = list(table.columns).index("area_gap_m2") + 1
        assert ws.cell(row=top + 1, column=col).number_format == "#,##0.0"
        col = list(table.columns).index("share_elderly_within") + 1
        assert ws.cell(row=top + 1, column=col).number_format == "0.0%"
        assert ws.column_dimensions["A"].width >= 6
    # the band header states the banding from the profile's figures
    assert "人口≥10000的社区数（应配日间照料中心）" in [c.value for c in wb["区县汇总"][header_row(wb["区县汇总"])]]
    params = {r[0]: r[1] for r in wb["参数与输入文件"].iter_rows(values_only=True) if r[0]}
    assert params["步速(米/秒)"] == "0.9" and params["步行时间限制(分钟)"] == "15"
    sha = {r[0]: r[2] for r in wb["参数与输入文件"].iter_rows(values_only=True) if r[0]}
    # SHA-256 of b"abc" (FIPS 180-2 test vector)
    assert sha[str(tmp_path / "communities.csv")] == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha[str(tmp_path / "missing.gpkg")] == "文件不存在"
    rules = [r[0] for r in wb["规则"].iter_rows(min_row=header_row(wb["规则"]) + 1, values_only=True)]
    assert "baoji: tiers.day_care_centre.min_population = 10000" in rules


def test_html_agrees_with_csv_and_is_self_contained(tmp_path):
    t, d, paths = build(tmp_path)
    page = parse(paths["html"])
    for tid, key in (("table-community", "community_csv"), ("table-district", "district_csv")):
        tab = page.tables[tid]
        csv = pd.read_csv(paths[key], encoding="utf-8-sig", keep_default_na=False, na_values=[""], dtype=str)
        shown = report._shown_columns(t if key == "community_csv" else d, norms.load_profile("baoji")).columns
        assert tab["columns"] == list(shown)  # the page leaves out columns of rules the profile lacks
        csv = csv[list(shown)]
        body = [r for r in tab["rows"] if r]
        assert len(body) == len(csv)
        for i, row in enumerate(body):
            for c, cell in zip(csv.columns, row):
                v = csv[c].iloc[i]
                assert same(cell["value"], "" if pd.isna(v) else v), (tid, c, i, cell, v)
    html_text = paths["html"].read_text(encoding="utf-8")
    lower = html_text.lower()
    assert "<script" not in lower and "<link" not in lower and "@import" not in lower
    assert "http://" not in lower and "https://" not in lower and "src=" not in lower.replace("src=x", "")
    # summary numbers agree with the tables
    total = d[d["row_type"] == "total"].iloc[0]
    assert report.format_number("area_gap_m2", total["area_gap_m2"]) in html_text
    assert report.format_number("subsidy_build_cny", total["subsidy_build_cny"]) in html_text
    assert report.format_number("share_elderly_within", total["share_elderly_within"]) in html_text
    # the first page: whole m² and whole percentages
    front = html_text[html_text.index('<section id="front">'):html_text.index("</section>")]
    assert f"{round(total['area_gap_m2']):,}" in front
    assert f"{round(total['share_elderly_within'] * 100)}%" in front
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in html_text


def test_every_user_string_is_escaped(tmp_path):
    _, _, paths = build(tmp_path, name0=EVIL)
    html_text = paths["html"].read_text(encoding="utf-8")
    assert EVIL not in html_text
    assert "<img" not in html_text.lower()
    # the community name, district, facility name, title and a parameter all show escaped
    assert html_text.count("&lt;img src=x onerror=alert(1)&gt;") >= 5
    page = parse(paths["html"])
    assert not any(tag == "img" for tag, _ in page.tags)
    names = [r[1]["text"] for r in page.tables["table-community"]["rows"] if r]
    assert names[0] == EVIL  # shown as text, exactly
    assert "B&amp;B &quot;quoted&quot;" in html_text


def test_english_labels_and_language_check(tmp_path):
    _, d, paths = build(tmp_path, language="en")
    wb = load_workbook(paths["xlsx"])
    assert wb.sheetnames[:3] == ["district_gaps", "street_gaps", "community_gaps"]
    header = [c.value for c in wb["district_gaps"][header_row(wb["district_gaps"])]]
    assert "Floor-area gap" in header and "Communities population≥10000 (day-care centre)" in header
    assert '<html lang="en">' in paths["html"].read_text(encoding="utf-8")
    with pytest.raises(ValueError):
        report.write_reports(d, d, tmp_path / "x", profile=norms.load_profile(), parameters={}, input_files=[],
                             language="fr")


def test_without_access_the_reports_say_not_computed(tmp_path):
    t, d, paths = build(tmp_path, access=None)
    csv = pd.read_csv(paths["district_csv"], encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    assert set(csv["coverage_status"].dropna()) <= {"not computed"}
    assert csv["share_elderly_within"].isna().all()
    assert "未计算（无路网）" in paths["html"].read_text(encoding="utf-8")


def test_changing_a_user_profile_number_changes_the_report(tmp_path):
    _, _, base = build(tmp_path / "a")
    user = tmp_path / "mine.toml"
    user.write_text('extends = "baoji"\n[tiers.day_care_centre]\nbuild_subsidy_cny = 900000\nmin_population = 13000\n',
                    encoding="utf-8")
    _, _, mine = build(tmp_path / "b", user_file=user)
    read = lambda p: pd.read_csv(p, encoding="utf-8-sig").set_index("district")  # noqa: E731
    a, b = read(base["district_csv"]), read(mine["district_csv"])
    # A (12,000, has a service centre) needs a day-care centre under baoji; under mine.toml it falls
    # in the service-centre band, which its centre meets. B (5,000, only a meal point) needs a
    # service centre (300k + 50k) either way; C (3,000) has its station.
    assert a.loc["(all)", "new_day_care_centre"] == 1 and b.loc["(all)", "new_day_care_centre"] == 0
    assert a.loc["(all)", "subsidy_build_cny"] == 800_000 + 350_000
    assert b.loc["(all)", "subsidy_build_cny"] == 350_000
    assert "mine.toml: tiers.day_care_centre.min_population = 13000" in mine["html"].read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _tmp_dirs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()


def test_summary_says_when_the_profile_has_no_tier_rule(tmp_path):
    _, _, paths = build(tmp_path, profile="national", language="en")
    text = paths["html"].read_text(encoding="utf-8")
    assert "The profile has no tier-by-population rule" in text
    _, _, paths = build(tmp_path / "a", profile="baoji", language="en")
    assert "no tier-by-population rule" not in paths["html"].read_text(encoding="utf-8")


# --------------------------------------------------------------------------- spreadsheet safety

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"]


def test_formula_text_is_neutralised_and_numbers_stay_numbers():
    from eldercare_coverage._safe_cells import neutralise, safe_text_frame

    for text in FORMULAS + ["\t=1", "\r=1"]:
        assert neutralise(text) == "'" + text
    for text in ("东风社区", "a=b", " =1", "", "'=already"):
        assert neutralise(text) == text
    df = pd.DataFrame({"name": FORMULAS + ["ok"], "gap": [-2.5, -1.0, 0.0, 3.0, -7.0],
                       "mixed": pd.Series(["=1", -3, None, 2.5, "-x"], dtype=object), "=col": range(5)})
    out = safe_text_frame(df)
    assert out["name"].tolist() == ["'" + f for f in FORMULAS] + ["ok"]
    assert out["gap"].tolist() == [-2.5, -1.0, 0.0, 3.0, -7.0] and out["gap"].dtype == float
    assert out["mixed"].tolist() == ["'=1", -3, None, 2.5, "'-x"]
    assert list(out.columns) == ["name", "gap", "mixed", "'=col"]
    assert df["name"].iloc[0] == FORMULAS[0]  # the caller's frame is not changed


def test_reports_write_no_formula_and_report_control_characters(tmp_path):
    from eldercare_coverage.errors import ProblemReport

    com, fac = city()
    com["name"] = [FORMULAS[0], "Word\x07paste", "-2+3"]
    com["district"] = ["@SUM(A1)", "@SUM(A1)", "+1+1"]
    com["street"] = ["S1", "bell\x0bS2", "S3"]
    p = norms.load_profile("baoji")
    t = norms.check_communities(com, fac, p, ACCESS)
    d = norms.rollup(t, fac, p, by="district")
    problems = ProblemReport()
    paths = report.write_reports(t, d, tmp_path / "r", profile=p, parameters={"study": "=1+2 study"},
                                 input_files=[], title="t", problems=problems,
                                 unassigned=norms.unassigned_facilities(t, fac))
    for key in ("community_csv", "district_csv"):
        cells = [c for row in pd.read_csv(paths[key], dtype=str, keep_default_na=False,
                                          encoding="utf-8-sig").itertuples(index=False) for c in row]
        assert not [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and not _num(c))]
    cells = pd.read_csv(paths["community_csv"], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert cells["name"].tolist() == ["'" + FORMULAS[0], "Word\x07paste", "'-2+3"]  # CSV keeps the BEL
    wb = load_workbook(paths["xlsx"])
    all_cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in all_cells if c.data_type == "f"] == []
    texts = [c.value for c in all_cells if isinstance(c.value, str)]
    assert "'" + FORMULAS[0] in texts and "'@SUM(A1)" in texts and "'=1+2 study" in texts
    assert "Word\ufffdpaste" in texts and "bell\ufffdS2" in texts
    assert not [v for v in texts if v.startswith(("=", "+", "-", "@"))]
    # numbers stay numbers in the workbook
    ws = wb[report.sheet_name("community")]
    top = header_row(ws)
    header = [c.value for c in ws[top]]
    gap_col = header.index(report.label("area_gap_m2")) + 1
    assert all(isinstance(ws.cell(r, gap_col).value, (int, float)) for r in range(top + 1, top + 4))
    # one warning for the workbook, naming its first replaced cell
    warned = [w for w in problems.warnings if w.file == "gaps.xlsx"]
    assert len(warned) == 1 and "U+FFFD" in warned[0].message and "and 1 other cell" in warned[0].message
    assert warned[0].field == report.label("name") and "sheet '" in warned[0].message


def header_row(ws) -> int:
    """The sheet's header row: the one printed on every page (under the title block)."""
    return int(ws.print_title_rows.split(":")[0].strip("$"))


def _num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
