"""The report in a real browser (headless Chromium): at 1400 px and at a phone's 390 px
nothing but a table's own scroll box is wider than the window, every figure loads and fits,
and every table sits in a box that scrolls sideways instead of widening the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis import report
from tests.chromium import BINARY, Browser
from tests.synthetic_runs import design_groups, write_synthetic_run

pytestmark = pytest.mark.skipif(
    BINARY is None, reason="chromium is not installed (apt-get install -y chromium)"
)

MEASURE = """(() => {
  const w = window.innerWidth, d = document.documentElement;
  const right = e => e.getBoundingClientRect().right;
  return {
    inner: w,
    scroll: d.scrollWidth,
    wide: [...document.querySelectorAll("body *")]
      .filter(e => !e.closest(".table") && right(e) > w + 1)
      .map(e => e.tagName + "." + e.className),
    images: [...document.images].map(i => ({
      ok: i.complete && i.naturalWidth > 0, right: right(i),
    })),
    tables: [...document.querySelectorAll("table")].map(t => ({
      boxed: t.parentElement.classList.contains("table"),
      right: right(t.parentElement),
      scrolls: t.parentElement.scrollWidth > t.parentElement.clientWidth,
    })),
  };
})()"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    run = write_synthetic_run(root / "run", design_groups(), problems=4, samples=1)
    return report.build_report(run, n_boot=30, fit_boot=0).html


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.mark.parametrize(("width", "mobile"), [(1400, False), (390, True)])
def test_the_report_fits_the_window(page: Path, browser: Browser, width: int, mobile: bool) -> None:
    browser.open(page.as_uri(), width, mobile=mobile)
    seen = browser.evaluate(MEASURE)
    assert seen["inner"] == width
    assert seen["scroll"] <= width and seen["wide"] == []
    assert seen["images"] and all(i["ok"] and i["right"] <= width for i in seen["images"])
    assert seen["tables"] and all(t["boxed"] and t["right"] <= width for t in seen["tables"])
    if width < 500:  # the wide tables scroll in their boxes on a phone
        assert any(t["scrolls"] for t in seen["tables"])
