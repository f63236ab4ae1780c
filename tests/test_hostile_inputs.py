"""Hostile strings in every user-reachable text field, through every output of a real run.

One study per payload class (template injection, script injection, spreadsheet formulas,
control characters, a 300-character string) is built from the sample: every text field of
the communities, the population table, the facilities and the candidates, and the study name
and basemap URL of the config, carry that class's payloads. The pipeline runs once per class
(in-process), then each row of the table (class × field × output) checks that output:

* no code ran: the file the ``os.system`` payload would create is absent, and no template
  expression was evaluated (``{{7*7}}`` never shows as ``49``);
* the literal text is there, as data: JSON data in the map, escaped text in the report page,
  a neutralised cell (leading ``'``) in CSV and XLSX;
* no formula exists: no CSV or XLSX text cell starts with ``= + - @``, tab or CR, and openpyxl
  finds no cell of type ``f``.

The 300-character study name (a file-name problem) is left to the output-safety tests.
"""

from __future__ import annotations

import csv
import html
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pandas as pd
import pytest
from openpyxl import load_workbook

import eldercare_coverage as ec
from eldercare_coverage import maps
from eldercare_coverage._safe_cells import FORMULA_START, REPLACEMENT_CHAR, neutralise

sys.path.insert(0, str(Path(__file__).resolve().parent))  # whatever pytest's import mode
from test_maps_browser import Visit, browser  # noqa: E402,F401  (browser is a fixture)

MARKER = "pwned-marker"


def os_payload(marker: str) -> str:
    """Server-side template injection that creates ``marker`` if a template ever renders it."""
    return ("{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch " + marker + "') }}")


#: Payloads of each class, and what a template engine would have made of each (SSTI only).
PAYLOADS: dict[str, list[str]] = {
    "ssti": ["{{7*7}}", "{% for x in range(3) %}X{% endfor %}", "@OS@"],
    "xss": ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'],
    "formula": ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"],
    "control": ["a\x07b", "c\x0bd"],
    "long": ["@LONG@"],
}
EVALUATED = {"{{7*7}}": "49", "{% for x in range(3) %}X{% endfor %}": "XXX", "@OS@": "0"}
#: Config strings. The study name also names the map file (made safe by eldercare_coverage.outputs).
STUDY_NAMES = {
    "ssti": "{{7*7}}{% for x in range(3) %}X{% endfor %}" + os_payload("pwned-study") + " study",
    "xss": '"><img src=x onerror=alert(1)><script>alert(1)</script> Tom & Jerry\'s study',
    "formula": "=1+2 study",
    "control": "ctl\x07study\x0b",
}
STUDY_EVALUATED = {"ssti": "49XXX0 study"}
BASEMAPS = {
    "ssti": "https://tiles.example.org/{z}/{x}/{y}.png?v={{7+7}}",
    "xss": 'https://"><img src=x onerror=alert(1)>/{z}/{x}/{y}.png',
}
BASEMAP_EVALUATED = {"ssti": "?v=14"}

#: Text fields a user fills in: (layer, canonical column, tag written after the payload).
FIELDS = [("communities", "community_id", "cid"), ("communities", "name", "cname"),
          ("communities", "district", "dist"), ("communities", "street", "strt"),
          ("facilities", "facility_id", "fid"), ("facilities", "name", "fname"),
          ("candidates", "candidate_id", "kid"), ("candidates", "name", "kname"),
          ("config", "study.name", ""), ("config", "output.basemap", "")]
OUTPUTS = ("map", "report_html", "csv", "xlsx")
#: Where each field's text must show up: every injected value ("all") or some of them ("any":
#: only the proposed candidates reach the reports, only facilities inside a community are
#: listed in the community table). Every output is checked for safety whatever this says.
ALL_OUT = {"map": "all", "report_html": "all", "csv": "all", "xlsx": "all"}
EXPECTED: dict[str, dict[str, str]] = {
    "community_id": ALL_OUT, "communities.name": ALL_OUT, "district": ALL_OUT, "street": ALL_OUT,
    "facility_id": {"map": "all", "report_html": "any", "csv": "any", "xlsx": "any"},
    "facilities.name": {"map": "all"},
    "candidate_id": {"map": "all", "report_html": "any", "csv": "any", "xlsx": "any"},
    "candidates.name": {"map": "all", "report_html": "any", "csv": "any", "xlsx": "any"},
    "study.name": {"map": "all", "report_html": "all", "xlsx": "all"},
    "output.basemap": {"map": "all"},
}
#: The columns of the sample's files that hold each canonical field.
SOURCE_COLUMNS = {("facilities", "facility_id"): "设施编码", ("facilities", "name"): "设施名称"}


def _key(layer: str, column: str) -> str:
    return f"{layer}.{column}" if column == "name" else column


@dataclass
class HostileRun:
    """One pipeline run of the sample with one class's payloads in every text field."""

    cls: str
    folder: Path
    marker_paths: list[Path]
    values: dict[str, list[str]] = field(default_factory=dict)  # field key -> injected strings
    result: object = None

    @cached_property
    def map_html(self) -> str:
        (path,) = (self.folder / "maps").glob("*.html")
        return path.read_text(encoding="utf-8")

    @cached_property
    def report_html(self) -> str:
        return (self.folder / "reports" / "report.html").read_text(encoding="utf-8")

    @cached_property
    def map_strings(self) -> list[str]:
        """Every string in the map's JSON data blocks (parsed, so escapes are undone)."""
        out: list[str] = []

        def walk(v):
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)

        for text in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', self.map_html, re.S):
            walk(json.loads(text))
        return out

    @cached_property
    def report_texts(self) -> list[str]:
        parser = _TextCollector()
        parser.feed(self.report_html)
        return parser.texts

    @cached_property
    def csv_cells(self) -> dict[str, list[str]]:
        cells = {}
        for path in sorted(self.folder.glob("*/*.csv")):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                cells[path.name] = [c for row in csv.reader(fh) for c in row]
        return cells

    @cached_property
    def xlsx_cells(self) -> list[tuple[str, object, str]]:
        """(sheet!cell, value, data_type) of every cell of gaps.xlsx."""
        wb = load_workbook(self.folder / "reports" / "gaps.xlsx")
        return [(f"{ws.title}!{c.coordinate}", c.value, c.data_type)
                for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


class _TextCollector(HTMLParser):
    """Text and attribute values of a page, with entities decoded (what a reader sees)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []

    def handle_data(self, data):
        self.texts.append(data)

    def handle_starttag(self, tag, attrs):
        self.texts.extend(v for _, v in attrs if v)


def _value(cls: str, i: int, tag: str, marker: Path) -> str:
    payloads = PAYLOADS[cls]
    p = payloads[i % len(payloads)]
    if p == "@OS@":
        return os_payload(marker.as_posix()) + f" {tag}{i}"
    if p == "@LONG@":
        return f"{tag}{i} ".ljust(300, "长")
    return f"{p} {tag}{i}"


def _edit_geojson(path: Path, edits: dict[str, list[str]]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for i, feat in enumerate(data["features"]):
        for column, values in edits.items():
            feat["properties"][column] = values[i]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def build_hostile_study(folder: Path, cls: str, marker: Path) -> HostileRun:
    """Put ``cls``'s payloads into every text field of the sample copy in ``folder``."""
    run = HostileRun(cls, folder, [marker, folder / "pwned-study"])
    n = {"communities": len(json.loads((folder / "communities.geojson").read_text(encoding="utf-8"))["features"]),
         "candidates": len(json.loads((folder / "candidates.geojson").read_text(encoding="utf-8"))["features"]),
         "facilities": len(pd.read_csv(folder / "facilities.csv", encoding="utf-8-sig"))}
    for layer, column, tag in FIELDS:
        if layer != "config":
            run.values[_key(layer, column)] = [_value(cls, i, tag, marker) for i in range(n[layer])]
    # Districts and streets: one per payload, so each name has several communities.
    for column in ("district", "street"):
        run.values[column] = [_value(cls, i % len(PAYLOADS[cls]), column[:4], marker)
                              for i in range(n["communities"])]
    com = folder / "communities.geojson"
    old_ids = [f["properties"]["community_id"] for f in json.loads(com.read_text(encoding="utf-8"))["features"]]
    _edit_geojson(com, {c: run.values[_key("communities", c)] for c in ("community_id", "name", "district", "street")})
    pop = pd.read_csv(folder / "population.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    new_id = dict(zip(old_ids, run.values["community_id"]))
    pop["社区编码"] = pop["社区编码"].map(new_id)
    pop["小区名称"] = pop["社区编码"].map(dict(zip(run.values["community_id"], run.values["communities.name"])))
    pop.to_csv(folder / "population.csv", index=False, encoding="utf-8-sig")
    fac = pd.read_csv(folder / "facilities.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for column in ("facility_id", "name"):
        fac[SOURCE_COLUMNS[("facilities", column)]] = run.values[_key("facilities", column)]
    fac.to_csv(folder / "facilities.csv", index=False, encoding="utf-8-sig")
    _edit_geojson(folder / "candidates.geojson",
                  {c: run.values[_key("candidates", c)] for c in ("candidate_id", "name")})

    config = (folder / "sample.toml").read_text(encoding="utf-8")
    name = STUDY_NAMES.get(cls, "hostile-study")
    run.values["study.name"] = [name] if cls in STUDY_NAMES else []
    # A JSON string is a valid TOML basic string (\uXXXX escapes for control characters).
    config = config.replace('name = "chengdu-north-sample"', "name = " + json.dumps(name, ensure_ascii=False))
    # the title reports and maps show is a user string too: it carries the same payload
    config = re.sub(r"^title = .*$", lambda _: "title = " + json.dumps(name, ensure_ascii=False), config, count=1,
                    flags=re.M)
    basemap = BASEMAPS.get(cls, "none")
    run.values["output.basemap"] = [basemap] if cls in BASEMAPS else []
    config = config.replace('maps_dir = "maps"', 'maps_dir = "maps"\nbasemap = ' + json.dumps(basemap)
                            + f"\npng = {'true' if cls == 'ssti' else 'false'}")
    (folder / "sample.toml").write_text(config, encoding="utf-8")
    return run


_RUNS: dict[str, HostileRun] = {}


@pytest.fixture
def hostile(sample_copy, tmp_path, monkeypatch):
    """``hostile(cls)``: the run of ``cls``'s study, made on first use and then shared (the
    folders live in pytest's temp folder for the whole session)."""

    def get(cls: str) -> HostileRun:
        if cls not in _RUNS:
            run = build_hostile_study(sample_copy, cls, tmp_path / MARKER)
            with monkeypatch.context() as mp:
                mp.chdir(sample_copy)  # where the study name's relative marker would appear
                run.result = ec.run(sample_copy / "sample.toml")
            _RUNS[cls] = run
        return _RUNS[cls]

    return get


def test_the_ssti_payload_is_live(tmp_path):
    """The payload really runs a command when a template renders it (as folium did)."""
    marker = tmp_path / "live"
    jinja2.Template(os_payload(marker.as_posix())).render()
    assert marker.exists()


def _expected_text(run: HostileRun, value: str, output: str) -> str:
    """How ``value`` must read in ``output`` (the loaders strip outer whitespace)."""
    value = value.strip()
    if output == "xlsx":  # characters an Excel file cannot hold
        value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", REPLACEMENT_CHAR, value)
    return value


def _haystack(run: HostileRun, output: str) -> list[str]:
    if output == "map":
        return run.map_strings + [html.unescape(s) for s in run.map_strings]  # title box is HTML
    if output == "report_html":
        return run.report_texts
    if output == "csv":
        return [c for cells in run.csv_cells.values() for c in cells]
    return [v for _, v, _ in run.xlsx_cells if isinstance(v, str)]


#: A number as pandas writes it (negative numbers are numbers, not formulas).
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-?inf")
CONFIG_PAYLOADS = {"study.name": STUDY_NAMES, "output.basemap": BASEMAPS}
ROWS = [(cls, _key(layer, column), output) for cls in PAYLOADS for layer, column, _ in FIELDS
        for output in OUTPUTS if layer != "config" or cls in CONFIG_PAYLOADS[column]]


@pytest.mark.parametrize("cls,key,output", ROWS, ids=[f"{c}-{k}-{o}" for c, k, o in ROWS])
def test_hostile_text_stays_text(hostile, cls, key, output):
    run = hostile(cls)
    # 1. no code ran
    assert not any(p.exists() for p in run.marker_paths), "a template executed the os.system payload"
    values = run.values[key]
    assert values
    raw = {"map": lambda: run.map_html, "report_html": lambda: run.report_html,
           "csv": lambda: "\n".join(c for cells in run.csv_cells.values() for c in cells),
           "xlsx": lambda: "\n".join(str(v) for _, v, _ in run.xlsx_cells)}[output]()
    # 2. nothing was evaluated or turned into markup (plain lists: pytest must not diff 1 MB pages)
    evaluated = [EVALUATED[p] + v[len(p):] for v in values for p in EVALUATED
                 if p != "@OS@" and v.startswith(p)]
    evaluated += [STUDY_EVALUATED[cls]] if key == "study.name" and cls in STUDY_EVALUATED else []
    evaluated += [BASEMAP_EVALUATED[cls]] if key == "output.basemap" and cls in BASEMAP_EVALUATED else []
    shown = [e for e in evaluated if e in raw]
    assert shown == [], f"template expressions were evaluated in {output}"
    if output in ("map", "report_html"):
        live = re.findall(r".{0,40}(?:<script>alert|<img src=x).{0,40}", raw, re.I)
        assert live == [], f"user markup is live in {output}"
    # 3. the literal text is there, as text
    if output in EXPECTED[key]:
        hay = _haystack(run, output)
        found = []
        for v in values:
            want = _expected_text(run, v, output)
            if any(want in h for h in hay):
                found.append(want)
                if output in ("csv", "xlsx") and want.startswith(FORMULA_START):
                    assert any(h.startswith(neutralise(want)) for h in hay), f"{want!r} not neutralised"
        if EXPECTED[key][output] == "all":
            missing = [_expected_text(run, v, output) for v in values if _expected_text(run, v, output) not in found]
            assert not missing, f"{missing[:3]} missing from the {output}"
        else:
            assert found, f"none of the {key} values reached the {output}"
    # 4. no formula anywhere
    if output == "csv":
        for name, cells in run.csv_cells.items():
            bad = [c for c in cells if c.startswith(FORMULA_START) and not NUMBER.fullmatch(c)]
            assert not bad, f"{name} has formula-like cells {bad[:3]}"
    if output == "xlsx":
        formulas = [(ref, v) for ref, v, t in run.xlsx_cells if t == "f"]
        assert formulas == []
        bad = [(ref, v) for ref, v, t in run.xlsx_cells if isinstance(v, str) and v.startswith(FORMULA_START)]
        assert not bad, bad[:3]



def test_png_of_the_hostile_map(hostile):
    """The PNG export screenshots the same page: no code ran while making it."""
    run = hostile("ssti")
    assert not any(p.exists() for p in run.marker_paths)
    pngs = list((run.folder / "maps").glob("*.png"))
    if maps.find_chromium() is None:  # the run says why there is no PNG
        assert pngs == [] and any("PNG" in p.message for p in run.result.study.report.warnings)
    else:
        assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_control_characters_are_reported_once_for_the_workbook(hostile):
    run = hostile("control")
    warned = [p for p in run.result.study.report.warnings if p.file == "gaps.xlsx"]
    assert len(warned) == 1 and "U+FFFD" in warned[0].message
    assert "gaps.xlsx" in (run.folder / "out" / "validation.txt").read_text(encoding="utf-8")


def test_hostile_map_runs_no_script_in_a_browser(hostile, browser):
    """Opened in Chromium, the XSS study's map raises no dialog and shows the names as text."""
    run = hostile("xss")
    (path,) = (run.folder / "maps").glob("*.html")
    v = Visit(browser, path)
    try:
        names = v.js("""() => { const out = [];
            COVERAGE.layers.communities_coverage.eachLayer(l => {
                l.openTooltip(l.getCenter()); out.push(l.getTooltip().getElement().textContent);
                l.closeTooltip(); });
            return out; }""")
        assert sorted(names) == sorted(n.strip() for n in run.values["communities.name"])
        title = v.js("document.querySelector('.cov-title b').textContent")
        assert title == STUDY_NAMES["xss"]
        assert v.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert v.dialogs == [] and not [e for e in v.errors if "net::" not in e]
    finally:
        v.close()


def test_terminal_output_shows_control_characters_as_text(sample_copy, capsys):
    """A name carrying terminal escape sequences (clear screen, bidi override) is printed inert."""
    from eldercare_coverage import cli

    assert cli.printable("小区\x1b[2J\x1b]0;owned\x07\u202e名") == "小区\ufffd[2J\ufffd]0;owned\ufffd\ufffd名"
    assert cli.printable("line\n\ttab\r") == "line\n\ttab\r"
    path = sample_copy / "facilities.csv"
    text = path.read_text(encoding="utf-8-sig").splitlines()
    # an unknown community id is warned with the id quoted: put the escape sequence there
    header = text[0].split(",")
    row = text[1].split(",")
    if "社区编码" not in header:
        header.append("社区编码")
        row.append("")
        text[0] = ",".join(header)
        text[2:] = [ln + "," for ln in text[2:]]
    row[header.index("社区编码")] = "X\x1b[2J"
    text[1] = ",".join(row)
    path.write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    cli.main(["validate", str(sample_copy / "sample.toml")])
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and "X\ufffd[2J" in out.out + out.err
