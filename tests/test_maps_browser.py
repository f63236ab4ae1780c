"""The coverage map in a real headless Chromium, opened from file:// with the network cut off.

Needs Debian's chromium and the playwright package: run ``scripts/setup_browser.sh``. A
missing browser fails these tests (it does not skip them), so CI cannot pass without them.
Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest

from eldercare_coverage import maps

sys.path.insert(0, str(Path(__file__).resolve().parent))  # whatever pytest's import mode
from test_maps import PARAMS, XSS_NAME, build_study  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETUP_HINT = "run `bash scripts/setup_browser.sh` (installs Debian chromium and playwright)"

#: What the page must show, written out here rather than taken from maps.LABELS.
EXPECTED = {
    "zh": {
        "overlays": ["社区：老年人步行覆盖率", "社区：设施建筑面积缺口", "街道界", "区界", "步行等时圈",
                     "超出步行时限的需求点", "候选点", "现有设施：日间照料中心", "现有设施：养老服务站",
                     "现有设施：助餐点", "建议新建设施"],
        "legend": ["老年人步行覆盖率（15 分钟）", "0–25%", "90–100%", "无数据", "5 分钟", "15 分钟",
                   "日间照料中心", "助餐点", "建议新建设施", "区界"],
        "gap_legend": ["设施建筑面积缺口（m²）", "达标（无缺口）", "300–700 m²", "> 700 m²"],
        "title": ["步行速度: 0.9 m/s", "步行时限: 15 分钟", "规范配置: national"],
    },
    "en": {
        "overlays": ["Communities: walk coverage", "Communities: floor-area gap", "Street boundaries",
                     "District boundaries", "Walk isochrones", "Demand beyond walk limit",
                     "Candidate sites", "Existing: Day-care centre", "Existing: Eldercare service station",
                     "Existing: Meal point", "Proposed sites"],
        "legend": ["Share of residents 60+ within 15 min walk", "0–25%", "90–100%", "No data",
                   "5 min", "15 min", "Day-care centre",
                   "Meal point", "Proposed sites", "District boundaries"],
        "gap_legend": ["Floor-area gap (m²)", "Norm met (no gap)", "300–700 m²", "> 700 m²"],
        "title": ["Walk speed: 0.9 m/s", "Time limit: 15 min", "Norm profile: national"],
    },
}
TITLE = "<script>alert('title')</script> 金牛区"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {SETUP_HINT}")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: {SETUP_HINT}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page load with every non-file request aborted and every console error recorded."""

    def __init__(self, browser, html_path: Path):
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.ctx.new_page()
        self.file_requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

        def route(r):
            if r.request.url.startswith("file://"):
                self.file_requests.append(r.request.url)
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.ctx.route("**/*", route)
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(html_path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_function("window.COVERAGE && COVERAGE.ready === true", timeout=15_000)

    def js(self, code: str, arg=None):
        return self.page.evaluate(code, arg)

    def close(self):
        self.ctx.close()


def _write(tmp_path_factory, name: str, **kw) -> tuple[dict, Path]:
    s = build_study()
    m = maps.make_map(s["communities"], s["facilities"], demand=s["demand"],
                      isochrones=s["isochrones"], candidates=s["candidates"],
                      proposed=s["proposed"], community_stats=s["community_stats"],
                      parameters=PARAMS, title=TITLE, **kw)
    return s, maps.write_map(m, tmp_path_factory.mktemp("maps") / f"{name}.html")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_renders_offline_with_every_layer(browser, tmp_path_factory, lang):
    s, html_path = _write(tmp_path_factory, f"study_{lang}", language=lang)
    v = Visit(browser, html_path)
    try:
        exp = EXPECTED[lang]
        assert v.js("L.version") == "1.9.4"
        assert v.js("document.querySelector('.folium-map').classList.contains('leaflet-container')")
        assert v.file_requests and v.file_requests[0].endswith(f"study_{lang}.html")
        assert v.blocked == [], f"the page tried the network: {v.blocked}"

        counts = v.js("Object.fromEntries(Object.entries(COVERAGE.layers)"
                      ".map(([k, l]) => [k, l.getLayers().length]))")
        beyond = int((~s["demand"]["within_limit"]).sum())
        assert 0 < beyond < len(s["demand"])
        assert counts == {
            "communities_coverage": 4, "communities_gap": 4, "streets": 2, "districts": 2,
            "isochrones": 3, "demand_beyond": beyond, "candidates": 2,
            "facilities_day_care_centre": 1, "facilities_service_station": 1,
            "facilities_meal_point": 1, "proposed": 1,
        }
        on_map = v.js("Object.fromEntries(Object.entries(COVERAGE.layers)"
                      ".map(([k, l]) => [k, COVERAGE.map.hasLayer(l)]))")
        # off at first load: the other choropleth, street outlines, the (many) points beyond the
        # limit and the candidates (the proposed sites are shown)
        assert [k for k, shown in on_map.items() if not shown] == ["communities_gap", "streets", "demand_beyond",
                                                                    "candidates"]
        # Markers and canvas points really reached the DOM / canvas.
        # 3 facilities + 1 proposed site (the 2 candidates start hidden)
        assert v.js("document.querySelectorAll('.leaflet-marker-pane .cov-icon').length") == 3 + 1
        assert v.js("document.querySelectorAll('.leaflet-overlay-pane canvas').length") >= 1

        labels = v.js("[...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
                      ".map(l => l.textContent.trim())")
        assert labels == exp["overlays"]

        # Choropleth colours follow the coverage share bins: 0.95, 0.6, 0.1, missing.
        fills = v.js("""() => { const out = {};
            COVERAGE.layers.communities_coverage.eachLayer(l =>
                out[l.feature.properties.community_id] = l.options.fillColor);
            return out; }""")
        assert fills == {"C1": "#2166ac", "C2": "#fddbc7", "C3": "#b2182b", "C4": "#bdbdbd"}  # RdBu: colour-blind safe

        legend = v.js("document.querySelector('.cov-legend').innerText")
        for text in exp["legend"]:
            assert text in legend, text
        assert exp["gap_legend"][0] not in legend  # gap legend hidden with its layer
        title = v.js("document.querySelector('.cov-title').innerText")
        assert TITLE in title
        for text in exp["title"]:
            assert text in title, text
        assert v.js("document.querySelector('.leaflet-control-scale-line').innerText").endswith("m")

        # Switching to the floor-area gap through the layer control swaps layer and legend.
        v.page.get_by_text(exp["overlays"][1], exact=True).click()
        v.page.wait_for_function("!COVERAGE.map.hasLayer(COVERAGE.layers.communities_coverage)")
        assert v.js("COVERAGE.map.hasLayer(COVERAGE.layers.communities_gap)")
        ticks = v.js("[...document.querySelectorAll('.leaflet-control-layers-overlays input')]"
                     ".map(i => i.checked)")
        assert ticks[:2] == [False, True] and ticks[2:] == [on_map[k] for k in list(on_map)[2:]]
        legend = v.js("document.querySelector('.cov-legend').innerText")
        for text in exp["gap_legend"]:
            assert text in legend, text
        assert exp["legend"][0] not in legend
        gap_fills = v.js("""() => { const out = {};
            COVERAGE.layers.communities_gap.eachLayer(l =>
                out[l.feature.properties.community_id] = l.options.fillColor);
            return out; }""")
        assert gap_fills == {"C1": "#2166ac", "C2": "#fee6ce", "C3": "#a63603", "C4": "#fdae6b"}
        v.page.get_by_text(exp["overlays"][0], exact=True).click()
        v.page.wait_for_function("!COVERAGE.map.hasLayer(COVERAGE.layers.communities_gap)")
        assert v.js("COVERAGE.map.hasLayer(COVERAGE.layers.communities_coverage)")
        assert exp["gap_legend"][0] not in v.js("document.querySelector('.cov-legend').innerText")

        ARTIFACTS.mkdir(exist_ok=True)
        v.page.screenshot(path=str(ARTIFACTS / f"maps_browser_{lang}.png"))
        assert v.errors == [], v.errors
        assert v.dialogs == []
    finally:
        v.close()


def test_user_strings_show_as_text(browser, tmp_path_factory):
    s, html_path = _write(tmp_path_factory, "escape")
    v = Visit(browser, html_path)
    try:
        # Tooltip and popup of the community named like an XSS payload.
        v.js("""() => COVERAGE.layers.communities_coverage.eachLayer(l => {
            if (l.feature.properties.community_id === 'C1') {
                l.openTooltip(l.getCenter()); l.openPopup(l.getCenter()); } })""")
        assert v.js("document.querySelector('.leaflet-tooltip').textContent") == XSS_NAME
        assert v.js("document.querySelector('.leaflet-popup-content .cov-ph').textContent") == XSS_NAME
        # A real click on the meal point's marker opens its popup; its <b> stays text.
        v.js("COVERAGE.map.closePopup()")
        v.page.wait_for_function("document.querySelectorAll('.leaflet-popup').length === 0")
        icon = v.js("""() => { const m = COVERAGE.layers.facilities_meal_point.getLayers()[0];
                               const p = COVERAGE.map.latLngToContainerPoint(m.getLatLng());
                               return [p.x, p.y]; }""")
        box = v.page.locator(".folium-map").bounding_box()
        v.page.mouse.click(box["x"] + icon[0], box["y"] + icon[1])
        v.page.wait_for_selector(".leaflet-popup-content .cov-ph")
        assert v.js("document.querySelector('.leaflet-popup-content .cov-ph').textContent") == "<b>bold</b> 助餐点"
        popup_text = v.js("document.querySelector('.leaflet-popup-content').innerText")
        assert "助餐点" in popup_text and "—" in popup_text  # unknown floor area shown as a dash
        assert v.js("document.querySelectorAll('img[src=\"x\"], .leaflet-popup-content b').length") == 0
        assert v.dialogs == [] and v.errors == [] and v.blocked == []
        ARTIFACTS.mkdir(exist_ok=True)
        v.page.wait_for_timeout(300)  # let the popup finish fading in
        v.page.screenshot(path=str(ARTIFACTS / "maps_browser_escape.png"))
    finally:
        v.close()


def test_overlays_render_when_tile_server_is_unreachable(browser, tmp_path_factory):
    """With an online basemap and no network only tiles fail; every overlay still draws."""
    _, html_path = _write(tmp_path_factory, "osm", basemap="osm")
    v = Visit(browser, html_path)
    try:
        v.page.wait_for_timeout(300)
        assert v.blocked, "the OSM basemap should have asked for tiles"
        assert all(u.startswith("https://tile.openstreetmap.org/") for u in v.blocked), v.blocked
        assert v.js("Object.keys(COVERAGE.layers).length") == 11
        assert v.js("COVERAGE.layers.communities_coverage.getLayers().length") == 4
        assert not [e for e in v.errors if "ERR_FAILED" not in e and "net::" not in e]
    finally:
        v.close()


def test_write_png_is_a_screenshot_of_the_map(tmp_path_factory):
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is missing: {SETUP_HINT}")
    _, html_path = _write(tmp_path_factory, "png")
    png = maps.write_png(html_path, ARTIFACTS / "maps_write_png.png", width=1000, height=700)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1000, 700)
    import matplotlib.image as mpimg
    import numpy as np
    pixels = (mpimg.imread(png)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    # The top coverage bin's blue (#2166ac) over the background: the layers were drawn.
    bluish = (pixels[:, 2] > pixels[:, 0] + 40) & (pixels[:, 2] > pixels[:, 1] + 20)
    assert bluish.mean() > 0.005
    assert len(np.unique(pixels, axis=0)) > 50
