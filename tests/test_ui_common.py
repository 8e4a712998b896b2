"""What the dashboard's browser tests share (no tests here): one headless Chromium per test module, a fresh page
per test with the script errors it raised, `runhive ui` started over a test's store, and screenshots saved under
the test's tmp dir (their paths printed, so `pytest -s` shows where to look)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_ui import Page
from test_ui_security import _request, start_ui

__all__ = ["Page", "api_json", "browser", "page", "screenshot", "start_ui"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Debian headless Chromium for the whole module (starting one costs about a second)."""
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it (make test does).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield Page(context.new_page())
    finally:
        context.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot of what the page shows now, for a reviewer; the path is printed."""
    path = tmp_path / f"{name}.png"
    page.page.screenshot(path=str(path), full_page=True)
    print(f"\nSCREENSHOT {name}: {path}", flush=True)
    return path


def api_json(base: str, path: str) -> Any:
    status, headers, body = _request(base, path)
    assert status == 200, (path, status, body[:300])
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)
