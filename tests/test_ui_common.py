"""What the dashboard's browser tests share (no tests here): one headless Chromium per test module, a fresh page
per test with the script errors it raised, `runhive ui` started over a test's store, and screenshots for a
reviewer: saved under the test's tmp dir and copied into one `screenshots/` directory of the session's base tmp
dir (or RUNHIVE_SCREENSHOT_DIR); each path is printed (`pytest -s`), kept in the test's report
(`user_properties`, in a JUnit XML), and listed at the end of the run's terminal summary."""

from __future__ import annotations

import json
import os
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


class _Screenshots:
    """A pytest plugin registered by the first `page`: lists every screenshot at the end of the terminal summary."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, Path]] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.taken:
            terminalreporter.section("dashboard screenshots")
            for name, path in self.taken:
                terminalreporter.write_line(f"{name}: {path}")


_SCREENSHOTS = _Screenshots()
SCREENSHOT_DIR = os.environ.get("RUNHIVE_SCREENSHOT_DIR")  # read at import: tests' fixtures clear RUNHIVE_*


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    if not request.config.pluginmanager.is_registered(_SCREENSHOTS):
        request.config.pluginmanager.register(_SCREENSHOTS, "runhive-ui-screenshots")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        p = Page(context.new_page())
        p.node = request.node  # type: ignore[attr-defined]
        yield p
    finally:
        context.close()


def screenshot(page: Page, tmp_path: Path, name: str, selector: str | None = None) -> Path:
    """A screenshot of what the page shows now (the whole page, or the element `selector`), for a reviewer."""
    path = tmp_path / f"{name}.png"
    if selector is None:
        page.page.screenshot(path=str(path), full_page=True)
    else:
        page.page.locator(selector).screenshot(path=str(path))
    # One directory for all of them: RUNHIVE_SCREENSHOT_DIR if set (pytest prunes old tmp dirs, and other test
    # sessions on the machine count), else screenshots/ in the session's base tmp dir.
    shared = Path(SCREENSHOT_DIR or tmp_path.parent / "screenshots")
    shared.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, shared / path.name)
    print(f"\nSCREENSHOT {name}: {path}", flush=True)
    node = getattr(page, "node", None)
    if node is not None:
        node.user_properties.append(("screenshot", str(shared / path.name)))
    _SCREENSHOTS.taken.append((name, shared / path.name))
    return path


def api_json(base: str, path: str) -> Any:
    status, headers, body = _request(base, path)
    assert status == 200, (path, status, body[:300])
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)
