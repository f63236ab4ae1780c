"""What a planner hands to the director: the report prints on A4 landscape with coverage and gap
on its first pages, the workbook prints and filters, and a zh run speaks Chinese in every header.

Printing needs Debian's chromium and pdftotext (``bash scripts/setup_browser.sh``); a missing
one fails the test, it does not skip it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook


CHROMIUM = "/usr/bin/chromium"
SNAKE = re.compile(r"\b[A-Za-z]+_[A-Za-z_]+\b")


def test_workbook_prints_landscape_fitted_with_headers_frozen_and_filtered(sample_run):
    out, _ = sample_run
    wb = load_workbook(out / "reports" / "gaps.xlsx")
    assert "未落入社区的设施" not in wb.sheetnames  # no empty sheet (every facility lies in a community)
    for ws in wb.worksheets:
        assert ws.max_row > 6, f"{ws.title} is empty"
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize in (9, "9")
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0
        header_row = int(ws.print_title_rows.split(":")[0].strip("$"))
        assert ws.auto_filter.ref.startswith(f"A{header_row}:")
        assert ws.freeze_panes.endswith(str(header_row + 1))
        # the title block: the study title, the profile, walk speed and limit, the date
        assert ws["A1"].value == "成都北部（金牛区、新都区交界）一刻钟居家养老服务圈评估（示例）"
        assert ws["A2"].value.startswith("规范：national") and "0.9 米/秒" in ws["A3"].value
        assert re.match(r"生成日期：\d{4}-\d\d-\d\d", ws["A4"].value)
    community = wb["社区明细"]
    header = [c.value for c in community[int(community.print_title_rows.split(":")[0].strip("$"))]]
    assert community.freeze_panes[0] == "C" and header[:2] == ["社区编码", "名称"]  # frozen at the name


def test_zh_headers_have_no_snake_case_and_no_rule_the_profile_lacks(sample_run):
    out, _ = sample_run
    wb = load_workbook(out / "reports" / "gaps.xlsx")
    for ws in wb.worksheets:
        row = int(ws.print_title_rows.split(":")[0].strip("$"))
        header = [c.value for c in ws[row] if isinstance(c.value, str)]
        assert not [h for h in header if SNAKE.search(h)], ws.title
        assert "床位缺口" not in header and "服务站缺口" not in header  # the national profile has no such rules
    page = (out / "reports" / "report.html").read_text(encoding="utf-8")
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers and not [h for h in headers if SNAKE.search(h)]
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|svg)[\s\S]*?</\1>", " ", page))
    assert not re.search(r"\binf\b", text) and not re.search(r"\d\.\d{3}\s*人", text)
    # one name per metric: the glossary's, never the old variants
    for variant in ("步行范围内老年人比例", "老年人可达比例", "15分钟步行可达的老年人比例"):
        assert variant not in text
    assert "老年人步行覆盖率" in text and "术语" in text


def test_first_page_has_the_answer_charts_and_the_map_image(sample_run):
    out, result = sample_run
    page = (out / "reports" / "report.html").read_text(encoding="utf-8")
    front = page[page.index('<section id="front">'):page.index("</section>")]
    assert front.count("<svg") >= 3  # coverage by district, gap by district, coverage against new sites
    assert 'src="data:image/png;base64,' in front
    assert "步行 15 分钟内能到达社区养老服务设施" in front
    siting = result.stages["siting"]
    share = siting.uncoverable_weight / siting.total_weight
    assert f"（{share * 100:.0f}%）距离所有现有设施和候选点都超过 15 分钟" in front
    assert re.search(r"孤立路段 \d+ 个节点 / [\d,]+ 米，位于经度 104\.\d{5}，纬度 30\.\d{5}，靠近", front)


def test_report_prints_on_a4_landscape_with_coverage_and_gap_first(sample_run, tmp_path):
    out, result = sample_run
    if not Path(CHROMIUM).exists() or shutil.which("pdftotext") is None:
        pytest.fail("needs chromium and pdftotext: run `bash scripts/setup_browser.sh`")
    pdf = tmp_path / "report.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", (out / "reports" / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=180)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert width > height and abs(width - 842) < 2  # A4 landscape
    assert pages <= 8, f"{pages} pages for the sample"
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "2", "-layout", str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "老年人步行覆盖率" in first and "建筑面积缺口" in first
    row = result.stages["norms"].districts.set_index("district").loc["金牛区"]
    expected = (rf"金牛区\s+{int(row['communities'])}\s+{round(row['elderly_population']):,}\s+"
                rf"{round(row['elderly_within']):,}\s+{round(row['share_elderly_within'] * 100)}%")
    assert re.search(expected, first), expected  # the district row, coverage included


def test_map_draws_streets_offline_credits_osm_and_fits_800x600(sample_run):
    """The map at 800×600 with no network: the study's own streets drawn, OSM credited, the
    legend and the layer control apart, the agreed layers on, points and candidates off, and a
    proposed site's popup with its tier and the older residents it newly covers."""
    from playwright.sync_api import sync_playwright

    out, _ = sample_run
    page_html = next((out / "maps").glob("*.html"))
    text = page_html.read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in text and "coverage_data_basemap_streets" in text
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        blocked = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                   else (blocked.append(r.request.url), r.abort()))
        page.goto(page_html.as_uri())
        page.wait_for_timeout(500)
        assert not blocked
        boxes = page.evaluate("""() => ['.leaflet-control-layers', '.cov-legend'].map(s => {
            const r = document.querySelector(s).getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom]; })""")
        (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes
        assert b1 <= t2 or b2 <= t1 or r1 <= l2 or r2 <= l1, f"legend and layer control overlap: {boxes}"
        assert max(b1, b2) <= 600 and max(r1, r2) <= 800
        ticked = page.evaluate("""() => Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
            .map(l => [l.textContent.trim(), l.querySelector('input').checked])""")
        state = dict(ticked)
        assert state["街道底图（OpenStreetMap）"] and state["步行等时圈"] and state["区界"] and state["建议新建设施"]
        assert state["社区：老年人步行覆盖率"] and not state["超出步行时限的需求点"] and not state["候选点"]
        # the legend folds away
        page.click(".cov-legend summary")
        assert page.evaluate("() => !document.querySelector('.cov-legend details').open")
        browser.close()
    spec = text[text.index("coverage_data_proposed"):]
    assert "新增覆盖人数" in text and "经度" in text


#: Three or more English words in a row: a sentence, where a zh deliverable may hold only ids.
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ -][A-Za-z]{2,}){2,}")


def _workbook_texts(path: Path) -> list[str]:
    """Every text cell of every sheet."""
    wb = load_workbook(path)
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def _visible_text(page: str) -> str:
    """What a reader sees of the page: no style, script or chart markup, no tags, entities decoded."""
    import html

    text = re.sub(r"<(style|script|svg)\b[\s\S]*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def _ids_shown(result) -> list[str]:
    """Ids a zh deliverable shows as they are, each with why it is no English text:"""
    from eldercare_coverage.norm_sources import SOURCE_TEXTS

    return [
        # the study slug ([study] name, e.g. chengdu-north-sample): the id of its output files
        result.study.config.study.name,
        # the inputs listed with their checksums, by path (the repository's folder names vary)
        *(str(f["path"]) for f in result.study.input_files),
        # the shipped source texts, named [file] beside each document so a reader can open them
        # (e.g. yuxi-community-eldercare-draft.txt)
        *SOURCE_TEXTS,
        # the attribution the OpenStreetMap licence asks for, in its own words
        "OpenStreetMap contributors",
    ]


def test_zh_html_and_workbook_have_no_english_sentence(sample_run):
    """Issue 13: no English in the zh deliverables apart from units and ids, the norm profile's
    notes, choices and toolkit-default reasons included (they have a Chinese text and an _en one)."""
    out, result = sample_run
    assert result.study.config.study.language == "zh"
    texts = _workbook_texts(out / "reports" / "gaps.xlsx")
    texts.append(_visible_text((out / "reports" / "report.html").read_text(encoding="utf-8")))
    ids = sorted(_ids_shown(result), key=len, reverse=True)  # a path before the file name inside it
    found = []
    for text in texts:
        for name in ids:
            text = text.replace(name, " ")
        found += ENGLISH_RUN.findall(text)
    assert not found, sorted(set(found))[:20]
    # the profile's texts are there, in Chinese: its note, a choice, a toolkit default, the clause
    page = texts[-1]
    assert "这些数值的国家层面出处不在本工具收录的文本中" in page
    assert "取舍：在本工具收录的文本中，只有玉溪征求意见稿给出此数值" in page
    assert "工具默认值（无原文依据）：输入未给出小区类型的社区按已建成小区的标准" in page
    assert "拉政办发〔2020〕38号 序言（列出了国家依据" in page


def test_en_deliverables_show_the_profile_texts_in_english(sample_run, tmp_path):
    """The same run's tables written in English: the profile's _en texts, never the Chinese ones."""
    from eldercare_coverage import report

    _, result = sample_run
    norms = result.stages["norms"]
    paths = report.write_reports(norms.communities, norms.districts, tmp_path, profile=norms.profile,
                                 parameters={"walk_speed_mps": 0.9, "time_limit_min": 15.0}, input_files=[],
                                 language="en", title="Chengdu north")
    page = _visible_text(paths["html"].read_text(encoding="utf-8"))
    cells = "\n".join(_workbook_texts(paths["xlsx"]))
    for text in (page, cells):
        assert "The national source of these figures is not among our texts." in text
        assert "choice: Only the Yuxi draft for comment states this figure among our texts" in text
        assert ("toolkit default (no source text): A community whose estate type the input does not give is "
                "checked at the existing-estate rate") in text
        assert "拉政办发〔2020〕38号 序言 (preamble: the national basis named; its text is not in our copies)" in text
        for zh in ("这些数值的国家层面出处", "在本工具收录的文本中，只有玉溪", "输入未给出小区类型", "列出了国家依据"):
            assert zh not in text
