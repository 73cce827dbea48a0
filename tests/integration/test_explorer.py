"""The log explorer page in a real browser: Debian's Chromium driven by Playwright, against the real stack.

Documents of the last minutes are indexed once for the module by the real processor (which keeps running, so the
live tail has something to show); each test opens the page afresh, in a browser set to a time zone other than UTC,
under the API's Content-Security-Policy, which the browser enforces: any violation fails the test. The screenshots
in docs/screenshots/ are written here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn

from api import create_app
from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, free_port, wait_for

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# As this machine needs them: no sandbox as root, and no background traffic to hosts it cannot reach.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ZONE, OFFSET = "Asia/Kolkata", timedelta(hours=5, minutes=30)  # no daylight saving: a fixed offset to check against
N_MAIN, N_CART = 120, 20


def _chromium() -> str:
    """Debian's Chromium, installed on first use when the tests run as root (as in CI)."""
    if not Path(CHROMIUM).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600, check=True)
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=True)
    assert Path(CHROMIUM).exists(), "Chromium is needed: apt-get install chromium"
    return CHROMIUM


def _level(i: int) -> str:
    return "error" if i % 12 == 0 else "warn" if i % 5 == 0 else "debug" if i % 3 == 0 else "info"


class Site:
    def __init__(self, url: str, token: str, run: str, settings: LogjetSettings, shipper: KafkaShipper,
                 live: Source) -> None:
        self.url, self.token, self.run, self.settings = url, token, run, settings
        self.shipper, self.live = shipper, live
        self.live_seq = 0

    def write(self, messages: list[str]) -> None:
        """Lines written now, through Kafka to the processor that keeps running."""
        now = time.time_ns()
        entries = [Entry(self.live_seq + i, now + i, f'{{"msg":"{m}","service":"checkout","level":"info"}}')
                   for i, m in enumerate(messages)]
        self.live_seq += len(messages)
        before = es_count(self.settings)
        self.shipper.send(Batch(self.live, entries), lambda b: None)
        assert self.shipper.flush(30)
        wait_for(lambda: es_count(self.settings) >= before + len(messages), 60, "the new lines")


@pytest.fixture(scope="module")
def site(endpoints):  # noqa: ANN001, ANN201
    """A checkout pod's last minute (every level, one payment declined), a cart pod beside it in namespace shop, and a
    bank pod that the shop key must never show; the real processor and the API running until the module ends."""
    tag, run = uuid.uuid4().hex[:10], uuid.uuid4().hex[:6]
    token, key = api_key(namespaces=["shop"])
    port = free_port()
    settings = LogjetSettings(kafka={"bootstrap": endpoints.kafka, "topic": f"ui-{tag}",
                                     "dead_letter_topic": f"ui-{tag}-d"},
                              elasticsearch={"url": endpoints.elasticsearch, "dataset": f"ui{tag}"},
                              processor={"group_id": f"ui-{tag}", "batch_max_wait_s": 0.2},
                              api={"keys": [key], "port": port})
    pod = {"kubernetes.namespace": "shop", "kubernetes.pod.name": "checkout-1", "container.name": "checkout"}
    main = Source(f"container:ui:main-{run}", "container", "node-1", "node-1", None, pod)
    cart = Source(f"container:ui:cart-{run}", "container", "node-2", "node-2", None,
                  {"kubernetes.namespace": "shop", "kubernetes.pod.name": "cart-1", "container.name": "cart"})
    bank = Source(f"container:ui:bank-{run}", "container", "node-3", "node-3", None,
                  {"kubernetes.namespace": "bank", "kubernetes.pod.name": "ledger-1", "container.name": "ledger"})
    live = Source(f"container:ui:live-{run}", "container", "node-1", "node-1", None, pod)
    now, ms = time.time_ns(), 1_000_000

    def message(i: int) -> str:
        return f"payment {run} declined" if i == 60 else f"checkout {run} step {i}"

    shipper = KafkaShipper(settings.kafka)
    shipper.send(Batch(main, [Entry(i, now - (N_MAIN - i) * 500 * ms + 123 * ms,
                                    f'{{"msg":"{message(i)}","service":"checkout","level":"{_level(i)}"}}')
                              for i in range(N_MAIN)]), lambda b: None)
    shipper.send(Batch(cart, [Entry(i, now - (N_CART - i) * 2000 * ms,
                                    f'{{"msg":"cart {run} item {i}","service":"cart","level":"info"}}')
                              for i in range(N_CART)]), lambda b: None)
    shipper.send(Batch(bank, [Entry(i, now - i * 1000 * ms, f'{{"msg":"ledger {run} entry {i}","service":"ledger"}}')
                              for i in range(10)]), lambda b: None)
    assert shipper.flush(30)
    worker = Worker(settings)
    stop = threading.Event()
    processing = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    processing.start()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    try:
        wait_for(lambda: es_count(settings) >= N_MAIN + N_CART + 10, 60, "the documents")
        serving.start()
        wait_for(lambda: server.started, 30, "the API")
        yield Site(f"http://127.0.0.1:{port}", token, run, settings, shipper, live)
    finally:
        server.should_exit = True
        stop.set()
        if serving.is_alive():
            serving.join(10)
        processing.join(60)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, site):  # noqa: ANN001, ANN201
    """A fresh page, its key already entered in this tab (the page keeps it in session storage); no CSP violation
    may happen while the test uses it."""
    context = browser.new_context(viewport={"width": 1280, "height": 760}, timezone_id=ZONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    page.add_init_script("window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                         "(e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(site.url + "/")
    page.fill("#key", site.token)
    page.dispatch_event("#key", "change")
    try:
        yield page
        assert page.evaluate("window.cspViolations") == [] and violations == []
    finally:
        context.close()


def _query(page) -> dict[str, list[str]]:  # noqa: ANN001
    return parse_qs(urlsplit(page.url).query)


def _screenshot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def _local(ts: str) -> str:
    """What the page must show for an Elasticsearch timestamp in ZONE: local time with milliseconds."""
    at = datetime.fromisoformat(ts[:23] + "+00:00").astimezone(timezone(OFFSET))
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def test_the_page_shows_the_last_15_minutes_at_once_and_the_url_holds_the_search(browser, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 760}, timezone_id=ZONE)
    page = context.new_page()
    try:
        answer = page.goto(site.url + "/")
        assert answer is not None and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        expect(page.locator("#status")).to_contain_text("API key", timeout=15_000)  # no key yet: it asks for one
        page.fill("#key", site.token)
        page.dispatch_event("#key", "change")
        rows = page.locator("#rows tr.row")
        # Without pressing Search: the shop key's lines of the last 15 minutes, the bank's never.
        expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
        assert not any("ledger" in t for t in rows.locator("td.msg").all_inner_texts())
        assert page.input_value("#range") == "now-15m"
        # A reload keeps the key (session storage) and shows the results again without a click.
        page.reload()
        expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    finally:
        context.close()


def test_in_open_demo_mode_the_page_shows_the_logs_without_a_key(browser, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    port = free_port()
    demo = site.settings.model_copy(update={"api": site.settings.api.model_copy(
        update={"keys": [], "open_demo": True, "port": port})})
    server = uvicorn.Server(uvicorn.Config(create_app(demo), host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    context = browser.new_context(timezone_id=ZONE)
    try:
        wait_for(lambda: server.started, 30, "the demo API")
        page = context.new_page()
        page.goto(f"http://localhost:{port}/")
        # Every namespace: an open demo reads all.
        expect(page.locator("#rows tr.row")).to_have_count(N_MAIN + N_CART + 10, timeout=15_000)
    finally:
        context.close()
        server.should_exit = True
        serving.join(10)


def test_times_are_local_with_milliseconds_on_one_line(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    cell = rows.first.locator("td.time")
    full = cell.get_attribute("title")
    assert full is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \(UTC\)", full)
    assert cell.inner_text() == _local(full)  # the browser's zone (+05:30), milliseconds kept
    # One line box for the whole text: nothing wrapped.
    assert cell.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); "
                         "return r.getClientRects().length; }") == 1


def test_histogram_has_axes_stacks_levels_and_a_drag_zooms(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    chart = page.locator("#histogram")
    x_labels = chart.locator("g.axis.x text").all_text_contents()
    y_labels = chart.locator("g.axis.y text").all_text_contents()
    # Local times at round minutes, evenly spaced (15 minutes: a tick every 2 or 5 minutes).
    assert len(x_labels) >= 3 and all(re.fullmatch(r"\d\d:\d\d", t) for t in x_labels), x_labels
    minutes = [int(t[:2]) * 60 + int(t[3:]) for t in x_labels]
    steps = {(b - a) % 1440 for a, b in zip(minutes, minutes[1:], strict=False)}
    assert len(steps) == 1 and steps <= {1, 2, 5} and all(m % min(steps) == 0 for m in minutes), x_labels
    assert y_labels[0] == "0" and len(y_labels) == 3 and int(y_labels[-1].replace(",", "")) > 0
    for level in ("error", "warn", "info", "debug"):
        assert chart.locator(f"g.bars rect.l-{level}").count() > 0, level
    _screenshot(page, "explorer.png")
    # Drag over the last two thirds of the plot: the range becomes those times, in the URL too.
    box = chart.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=\d{4}-"), timeout=10_000)
    query = _query(page)
    start, end = (datetime.fromisoformat(query[k][0].replace("Z", "+00:00")) for k in ("from", "to"))
    assert timedelta(minutes=7) < end - start < timedelta(minutes=12)
    expect(page.locator("#range option.zoomed")).to_have_count(1)
    page.go_back()
    expect(page.locator("#range")).to_have_value("now-15m", timeout=10_000)


def test_a_query_lives_in_the_url_across_reload_and_back(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    page.fill("#q", "declined")
    page.press("#q", "Enter")
    expect(rows).to_have_count(1, timeout=15_000)
    assert _query(page)["q"] == ["declined"]
    shared = page.url
    page.reload()  # a shared link: the same search
    expect(rows).to_have_count(1, timeout=15_000)
    assert page.input_value("#q") == "declined" and page.url == shared
    page.go_back()
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    assert page.input_value("#q") == "" and "q" not in _query(page)


def test_a_facet_click_filters_and_a_second_click_excludes(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    errors = sum(_level(i) == "error" for i in range(N_MAIN))
    error = page.locator('#facets button[data-facet="level"][data-value="error"]')
    assert error.locator(".count").inner_text() == str(errors)
    namespaces = page.locator('#facets button[data-facet="namespace"]')
    assert namespaces.locator(".name").all_inner_texts() == ["shop"]  # never the bank's
    assert namespaces.locator(".count").all_inner_texts() == [str(N_MAIN + N_CART)]
    error.click()
    expect(rows).to_have_count(errors, timeout=15_000)
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"error"}
    assert _query(page)["level"] == ["error"]
    expect(error).to_have_class(re.compile("included"))
    error.click()
    expect(rows).to_have_count(N_MAIN + N_CART - errors, timeout=15_000)
    assert "error" not in rows.locator("td:nth-child(2)").all_inner_texts()
    assert _query(page)["exclude"] == ["level:error"] and "level" not in _query(page)
    expect(error).to_have_class(re.compile("excluded"))
    # The other facets count the current search: the cart pod has no errors, so excluding them leaves all of it.
    cart = page.locator('#facets button[data-facet="container"][data-value="cart"] .count')
    assert cart.inner_text() == str(N_CART)
    error.click()  # a third click lifts the exclusion
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    page.locator('#facets button[data-facet="container"][data-value="cart"]').click()
    expect(rows).to_have_count(N_CART, timeout=15_000)
    _screenshot(page, "facets.png")


def test_a_row_expands_to_its_fields_and_its_surrounding_lines(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    row = page.locator("#rows tr.row", has_text=f"payment {site.run} declined")
    row.click()
    detail = page.locator("#rows tr.detail")
    expect(detail).to_have_count(1)
    # Nested as in the document, each value with its copy button.
    namespace = detail.locator("ul.fields.top > li", has_text="kubernetes").locator("li", has_text="namespace")
    assert namespace.locator(".v").inner_text() == "shop"
    namespace.hover()
    namespace.locator("button.copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "shop"
    detail.locator("button.context").click()
    lines = detail.locator("table.context tbody tr")
    expect(lines).to_have_count(101, timeout=15_000)
    messages = lines.locator("td.msg").all_inner_texts()
    assert messages[50] == f"payment {site.run} declined"
    assert messages[:50] == [f"checkout {site.run} step {i}" for i in range(10, 60)]
    assert messages[51:] == [f"checkout {site.run} step {i}" for i in range(61, 111)]
    assert detail.locator("table.context tr.anchor td.msg").inner_text() == messages[50]
    _screenshot(page, "context.png")


def test_the_patterns_view_counts_each_pattern_and_a_click_lists_its_lines(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    from processor.patterns import pattern_id, template

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    page.click('#views [data-view="patterns"]')
    patterns = page.locator("#pattern-rows tr.pattern")
    # The shop key's three patterns, most lines first (the bank's never).
    expected = [(N_MAIN - 1, template(f"checkout {site.run} step 7")), (N_CART, template(f"cart {site.run} item 7")),
                (1, template(f"payment {site.run} declined"))]
    expect(patterns).to_have_count(len(expected), timeout=15_000)
    assert _query(page)["view"] == ["patterns"]
    expect(page.locator("#lines")).to_be_hidden()
    assert patterns.locator("td.count").all_inner_texts() == [str(n) for n, _ in expected]
    assert patterns.locator("td.msg").all_inner_texts() == [t for _, t in expected]
    assert patterns.evaluate_all("rows => rows.map(r => r.dataset.id)") == [pattern_id(t) for _, t in expected]
    # Each variable part is marked on its own; the fixed words are plain text.
    for row, (_, text) in zip(patterns.all(), expected, strict=True):
        assert row.locator(".template .var").all_inner_texts() == ["<*>"] * text.count("<*>")
    assert expected[0][1].count("<*>") >= 1
    # The share bars are to scale: each pattern's share of the 140 matching lines, of an 80-pixel track.
    total = N_MAIN + N_CART
    widths = patterns.locator("svg.share rect.fill").evaluate_all("rs => rs.map(r => Number(r.getAttribute('width')))")
    assert widths == pytest.approx([max(1, 80 * n / total) for n, _ in expected], abs=0.01)
    assert patterns.locator("td.share .pct").all_inner_texts() == ["85%", "14%", "0.7%"]
    # The sparkline holds the pattern's lines over time: the bars' counts add up to the pattern's count.
    for row, (n, _) in zip(patterns.all(), expected, strict=True):
        titles = row.locator("svg.spark rect title").all_text_contents()
        assert sum(int(t.rsplit(": ", 1)[1]) for t in titles) == n
    _screenshot(page, "patterns.png")

    # A click lists that pattern's lines, with the filter in the URL and shown above them.
    patterns.nth(1).click()
    expect(rows).to_have_count(N_CART, timeout=15_000)
    assert all(m.startswith(f"cart {site.run} item ") for m in rows.locator("td.msg").all_inner_texts())
    query = _query(page)
    assert query["pattern"] == [pattern_id(expected[1][1])] and "view" not in query
    expect(page.locator("#pattern-filter .template")).to_have_text(expected[1][1])
    # Back: the Patterns view again, the chosen one not marked; back once more: every line.
    page.go_back()
    expect(page.locator("#patterns")).to_be_visible(timeout=10_000)
    expect(patterns).to_have_count(len(expected), timeout=15_000)
    assert "pattern" not in _query(page) and page.locator("#pattern-rows tr.selected").count() == 0
    page.go_back()
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    # From a row: "lines of this pattern", and the filter's x lifts it.
    page.locator("#rows tr.row", has_text=f"payment {site.run} declined").click()
    page.locator("#rows tr.detail button.same-pattern").click()
    expect(rows).to_have_count(1, timeout=15_000)
    assert _query(page)["pattern"] == [pattern_id(expected[2][1])]
    page.click("#pattern-filter button.clear")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    expect(page.locator("#pattern-filter")).to_be_hidden()


def test_live_tail_pauses_counts_new_lines_and_resumes(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    rows = page.locator("#rows tr.row")
    expect(rows).to_have_count(N_MAIN + N_CART, timeout=15_000)
    page.check("#live")
    expect(page.locator("#status")).to_have_text(re.compile(r"^live tail"), timeout=15_000)
    time.sleep(1.5)  # the tail starts at the present: let it take its first look
    site.write([f"live {site.run} first"])
    page.locator("#rows td.msg", has_text=f"live {site.run} first").wait_for(timeout=30_000)
    page.click("#pause")
    site.write([f"live {site.run} paused {i}" for i in range(3)])
    expect(page.locator("#pause")).to_have_text("resume (3 new)", timeout=30_000)
    assert page.locator("#rows td.msg", has_text=f"live {site.run} paused").count() == 0
    _screenshot(page, "tail.png")
    page.click("#pause")
    expect(page.locator("#rows td.msg", has_text=f"live {site.run} paused")).to_have_count(3)
    expect(page.locator("#pause")).to_have_text("pause")
    assert rows.first.locator("td.msg").inner_text().startswith(f"live {site.run} paused")
    page.uncheck("#live")
    expect(page.locator("#pause")).to_be_hidden()


def test_the_live_tail_keeps_to_the_chosen_pattern(page, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    from processor.patterns import pattern_id, template

    kept, other = f"live {site.run} kept 1", f"live {site.run} other 1"
    assert template(kept) != template(other)
    page.goto(f"{site.url}/?pattern={pattern_id(template(kept))}")  # a shared link to a pattern's lines
    expect(page.locator("#status")).to_contain_text("matching entries", timeout=15_000)
    page.check("#live")
    expect(page.locator("#status")).to_have_text(re.compile(r"^live tail"), timeout=15_000)
    time.sleep(1.5)  # the tail starts at the present: let it take its first look
    site.write([other, kept])  # in this order: once the second is shown, the first has been through the tail
    page.locator("#rows td.msg", has_text=kept).wait_for(timeout=30_000)
    assert page.locator("#rows td.msg", has_text=other).count() == 0
    page.uncheck("#live")
