"""The log explorer page in a real browser: Debian's Chromium driven by Playwright, against the real stack.

A search finds a known line, a level filter narrows the results, and the live tail shows a line written after the
page opened, all under the API's Content-Security-Policy, which the browser enforces: any violation fails the test.
The screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import uvicorn

from api import create_app
from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, free_port, wait_for

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# As this machine needs them: no sandbox as root, and no background traffic to hosts it cannot reach.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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


def _index(settings: LogjetSettings, entries: list[tuple[str, str]]) -> None:
    """Publish (level, message) lines as a collector would, and let the real processor index them."""
    shipper = KafkaShipper(settings.kafka)
    source = Source(f"container:ui:{uuid.uuid4().hex[:6]}", "container", "node-1", "node-1", None,
                    {"kubernetes.namespace": "shop", "container.name": "checkout-1"})
    now = time.time_ns()
    batch = [Entry(i, now + i, f'{{"level":"{lvl}","msg":"{msg}","service":"checkout"}}')
             for i, (lvl, msg) in enumerate(entries)]
    shipper.send(Batch(source, batch), lambda b: None)
    assert shipper.flush(30)
    before = es_count(settings)
    worker = Worker(settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: es_count(settings) >= before + len(entries), 60, "the documents")
    finally:
        stop.set()
        thread.join(60)


@pytest.fixture
def explorer(make_settings):  # noqa: ANN001, ANN201
    from playwright.sync_api import sync_playwright

    token, key = api_key(namespaces=["shop"])
    port = free_port()
    settings = make_settings(api={"keys": [key], "port": port})
    run = uuid.uuid4().hex[:6]
    _index(settings, [("info", f"order {run} placed"), ("error", f"payment {run} declined"),
                      ("info", f"cart {run} updated")])
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            yield page, f"http://127.0.0.1:{port}", token, run, settings
        finally:
            browser.close()
            server.should_exit = True
            thread.join(10)


def test_search_filter_and_live_tail_in_a_real_browser(explorer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page, url, token, run, settings = explorer
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script("window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                         "(e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    answer = page.goto(url + "/")
    assert answer is not None and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    page.fill("#key", token)
    page.dispatch_event("#key", "change")
    page.fill("#q", run)
    page.click("#search")
    rows = page.locator("#rows tr.row")
    rows.first.wait_for(timeout=15_000)
    assert sorted(rows.locator("td.msg").all_inner_texts()) == sorted(
        [f"order {run} placed", f"payment {run} declined", f"cart {run} updated"])
    assert "3 matching entries" in page.inner_text("#status")
    page.select_option("#level", "error")
    page.click("#search")
    # Locator assertions, not wait_for_function: that one evaluates a string, which the policy rightly refuses.
    expect(rows).to_have_count(1, timeout=15_000)
    assert rows.locator("td.msg").all_inner_texts() == [f"payment {run} declined"]
    rows.first.click()  # a row expands to its full JSON
    assert '"namespace": "shop"' in page.inner_text("#rows tr.detail pre")

    page.select_option("#level", "")
    page.fill("#q", "")
    page.check("#live")
    expect(page.locator("#status")).to_have_text(re.compile(r"^live tail"), timeout=15_000)
    time.sleep(1)
    _index(settings, [("warn", f"written {run} after the page opened")])
    page.locator("#rows td.msg", has_text=f"written {run} after the page opened").wait_for(timeout=30_000)
    assert page.evaluate("window.cspViolations") == [] and violations == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
