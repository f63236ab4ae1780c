"""The offline basemap's labels, buildings and the compound gates in headless Chromium, with the
network cut off: the sample's map at 800×600, zoomed in as a planner would to find a street.

Needs Debian's chromium and playwright (``bash scripts/setup_browser.sh``); a missing browser
fails these tests. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eldercare_coverage import basemap, maps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_maps import PARAMS, build_study  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
PAYLOAD = "</script><img src=x onerror=alert(1)>"
#: The two boxes that must never overlap or leave the window.
BOXES = """() => ['.leaflet-control-layers', '.cov-legend'].map(s => {
    const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""
LABELS = """() => [...document.querySelectorAll('.cov-labels span')].map(s => {
    const r = s.getBoundingClientRect();
    return [s.textContent, s.className, r.left, r.top, r.right, r.bottom, s.style.transform]; })"""


@pytest.fixture(scope="module")
def page_of():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/setup_browser.sh`")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        opened = []

        def open_page(path: Path, width: int = 800, height: int = 600):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.blocked, page.errors, page.dialogs = [], [], []
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                       else (page.blocked.append(r.request.url), r.abort()))
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_function("window.COVERAGE && COVERAGE.ready === true", timeout=15_000)
            opened.append(page)
            return page

        yield open_page
        for p in opened:
            p.close()
        browser.close()


def _zoom(page, lat: float, lon: float, z: int) -> None:
    """Move the map and wait for its moveend (the page places labels in its own moveend handler,
    registered first) plus two frames, rather than a fixed delay."""
    page.evaluate("""([lat, lon, z]) => new Promise(done => {
        const m = COVERAGE.map;
        m.once("moveend", () => requestAnimationFrame(() => requestAnimationFrame(done)));
        m.setView([lat, lon], z, {animate: false});
        m.fire("moveend");  // setView to the current view fires none
    })""", [lat, lon, z])


def test_sample_map_labels_buildings_and_gates_by_zoom(sample_run, page_of):
    out, result = sample_run
    page = page_of(next((out / "maps").glob("*.html")))
    # centred on the compound 保利公园里 (the main road 天歌路 runs south of it)
    com = result.study.communities
    row = com[com["name"] == "保利公园里"].to_crs(4326).representative_point().iloc[0]
    _zoom(page, row.y, row.x, 14)
    shown = page.evaluate(LABELS)
    assert all(c in ("cov-lbl-water",) for _, c, *_ in shown), shown  # only water names at 14
    assert not page.evaluate("COVERAGE.layers.gates.hasLayer(COVERAGE.layers.gates.inner)")
    assert not page.evaluate("COVERAGE.layers.basemap_buildings.hasLayer(COVERAGE.layers.basemap_buildings.inner)")

    _zoom(page, row.y, row.x, 17)
    shown = page.evaluate(LABELS)
    texts = {t for t, *_ in shown}
    assert "保利公园里" in texts, texts
    assert {"cov-lbl-compound", "cov-lbl-main"} <= {c for _, c, *_ in shown}
    assert any(c == "cov-lbl-local" for _, c, *_ in shown) or len(shown) >= 5
    # labels never overlap (horizontal ones: their boxes are exact)
    flat = [s for s in shown if s[6].endswith("rotate(0deg)") or s[6].endswith("rotate(-0deg)")]
    for i, a in enumerate(flat):
        for b in flat[i + 1:]:
            assert a[4] <= b[2] + 1 or b[4] <= a[2] + 1 or a[5] <= b[3] + 1 or b[5] <= a[3] + 1, (a, b)
    # gates and buildings are drawn at this zoom; the gate popup is text
    assert page.evaluate("COVERAGE.layers.gates.hasLayer(COVERAGE.layers.gates.inner)")
    assert page.evaluate("COVERAGE.layers.basemap_buildings.hasLayer(COVERAGE.layers.basemap_buildings.inner)")
    n_gates = page.evaluate("COVERAGE.layers.gates.inner.getLayers().length")
    assert n_gates == 99
    page.evaluate("""() => { const g = COVERAGE.layers.gates.inner.getLayers()
        .find(l => l.feature.properties.gate_id === 'G-CD0450175966-2'); g.openPopup(); }""")
    popup = page.evaluate("document.querySelector('.leaflet-popup-content').innerText")
    assert "示意侧门（非实测，仅业主通行）" in popup and "仅限本小区居民" in popup and "06:00-22:00" in popup
    page.evaluate("COVERAGE.map.closePopup(); 0")
    legend = page.evaluate("document.querySelector('.cov-legend').innerText")
    assert "小区出入口（放大至 15 级及以上显示）" in legend and "对所有人开放" in legend
    # legend and layer control still apart and inside 800×600 with the gates entry
    (l1, t1, r1, b1), (l2, t2, r2, b2) = page.evaluate(BOXES)
    assert b1 <= t2 or b2 <= t1 or r1 <= l2 or r2 <= l1
    assert max(b1, b2) <= 600 and max(r1, r2) <= 800
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_basemap_labels_z17.png"))
    assert page.blocked == [] and page.errors == [] and page.dialogs == []


def test_label_that_closes_the_script_tag_is_shown_as_text(tmp_path, page_of):
    s = build_study()
    coms = s["communities"].copy()
    coms.loc[1, "name"] = PAYLOAD
    m = maps.make_map(coms, s["facilities"], parameters=PARAMS,
                      basemap_features={"labels": basemap.labels(None, coms)})
    page = page_of(maps.write_map(m, tmp_path / "labels.html"), 1000, 800)
    c = coms.to_crs(4326).geometry.iloc[1].centroid
    _zoom(page, c.y, c.x, 17)  # at 16 the long name collides with its neighbour's and is left out
    texts = [t for t, *_ in page.evaluate(LABELS)]
    assert PAYLOAD in texts and "<img src=x onerror=alert(1)>" in texts  # C1 is named like an XSS payload
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], .cov-labels img').length") == 0
    assert page.dialogs == [] and page.errors == []


#: Where every facility and proposed site is (lat, lon, layer key, id), from the layers drawn.
SITES = """() => Object.keys(COVERAGE.layers).filter(k => k.startsWith('facilities_') || k === 'proposed')
    .flatMap(k => COVERAGE.layers[k].getLayers().map(m => [m.getLatLng().lat, m.getLatLng().lng, k,
        m.feature.properties.facility_id || m.feature.properties.candidate_id]))"""
#: The screen boxes of the site symbols shown (layer key, left, top, right, bottom).
MARKERS = """() => Object.keys(COVERAGE.layers)
    .filter(k => k.startsWith('facilities_') || k === 'proposed' || k === 'candidates')
    .filter(k => COVERAGE.map.hasLayer(COVERAGE.layers[k]))
    .flatMap(k => COVERAGE.layers[k].getLayers().filter(m => m._icon).map(m => {
        const r = m._icon.getBoundingClientRect(); return [k, r.left, r.top, r.right, r.bottom]; }))"""


def _apart(a: tuple, b: tuple, tol: float = 1.0) -> bool:
    """Two screen boxes (left, top, right, bottom) overlap by at most ``tol`` px."""
    return a[2] <= b[0] + tol or b[2] <= a[0] + tol or a[3] <= b[1] + tol or b[3] <= a[1] + tol


def test_labels_give_way_to_facility_and_proposed_site_symbols(sample_run, page_of):
    out, _ = sample_run
    page = page_of(next((out / "maps").glob("*.html")))
    sites = page.evaluate(SITES)
    assert len(sites) == 17  # 12 facilities, 5 proposed sites
    # centred on each site at the zooms where its compound and street names show: the sample's
    # facilities sit at their compound's middle, where its name was drawn over the symbol
    for lat, lon, key, site in sites:
        for z in (16, 17):
            _zoom(page, lat, lon, z)
            marks = page.evaluate(MARKERS)
            assert marks
            for text, _, *box, _ in page.evaluate(LABELS):
                for mkey, *mbox in marks:
                    assert _apart(box, mbox), (site, z, text, mkey)
    # the compound's name is moved beside the symbol, not left out: below it, at its anchor's x
    lat, lon, key, _ = next(s for s in sites if s[3] == "F02")  # 保利公园里养老服务中心
    _zoom(page, lat, lon, 17)
    (_, mleft, mtop, mright, mbottom), = [m for m in page.evaluate(MARKERS) if m[0] == key
                                          and m[1] < 400 < m[3] and m[2] < 300 < m[4]]
    name = {t: box for t, _, *box, _ in page.evaluate(LABELS)}["保利公园里"]
    assert mbottom - 1 <= name[1] and name[0] < (mleft + mright) / 2 < name[2]
    # a site layer ticked off is no obstacle: the name goes back over where the symbol was
    page.evaluate(f"COVERAGE.map.removeLayer(COVERAGE.layers['{key}']); 0")
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    name = {t: box for t, _, *box, _ in page.evaluate(LABELS)}["保利公园里"]
    assert not _apart(name, (mleft, mtop, mright, mbottom))
    assert page.blocked == [] and page.errors == [] and page.dialogs == []
