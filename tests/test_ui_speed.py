"""The dashboard's speed work (issue 15, speed): plotly's 4.8 MB served gzip-compressed with cache headers and
loaded without blocking the first paint (deferred scripts); the API's store reads run in the thread pool, off
the event loop (a slow read does not hold up other requests); many metrics in one request; a project with many
metrics fetches and draws the charts near the screen first, the others as they scroll into view."""

from __future__ import annotations

import gzip
import http.client
import inspect
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from starlette.routing import Route

from conftest import RhEnv, wait_for
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

PLAIN = """
import runhive as wandb

run = wandb.init(project="fast", name="r", config={"lr": 0.1})
for i in range(50):
    run.log({"a": i, "b": 2 * i, "c": 3.5 * i})
run.finish()
"""


def _get(base: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def test_plotly_is_compressed_cached_and_deferred(rh: RhEnv) -> None:
    rh.run(PLAIN)
    base, _ = start_ui(rh)
    status, headers, body = _get(base, "/vendor/plotly.min.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert "max-age" in headers["cache-control"] and headers.get("etag")
    plain = gzip.decompress(body)
    assert len(body) < len(plain) / 2 and plain.startswith(
        b"/**"
    )  # plotly's own banner, compressed to < half
    assert headers["content-security-policy"].startswith("default-src 'none'")  # the security headers stay
    _, _, index = _get(base, "/", {})
    assert b'src="/vendor/plotly.min.js" defer' in index and b'src="/static/app.js" defer' in index
    # Many metrics, one request; a key may contain a comma when repeated as key=.
    got = api_json(base, "/api/metrics?project=fast&key=a&key=b&key=c")
    run_id = next(iter(got["a"]))
    assert sorted(got) == ["a", "b", "c"] and got["c"][run_id]["last"][2] == 7.0
    assert sorted(got["a"][run_id]) == ["last", "step"]  # 50 points: no min/max copies
    status, _, body = _get(base, "/api/metrics?project=fast", {})
    assert status == 400 and b"key=" in body


def test_store_reads_run_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runhive_service.dashboard import UiConfig, create_app

    app = create_app(UiConfig(data_dir=tmp_path))
    api = [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")]
    assert len(api) >= 8
    assert not [
        r.path for r in api if inspect.iscoroutinefunction(r.endpoint)
    ]  # Starlette threads plain functions

    # And in practice: while four requests wait on a slow store read, another answers at once.
    import runhive.apis.public._api as public

    gate = threading.Event()
    slow = public.Api.project_summaries
    entered: list[int] = []

    def blocked(self: public.Api, entity: str | None = None) -> list[object]:
        entered.append(1)
        gate.wait(20)
        return slow(self, entity)

    from starlette.testclient import TestClient

    monkeypatch.setattr(public.Api, "project_summaries", blocked)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        waiting = [threading.Thread(target=client.get, args=("/api/projects",)) for _ in range(4)]
        for t in waiting:
            t.start()
        wait_for(lambda: len(entered) == 4, 10, "four requests inside the slow read")
        started = time.monotonic()
        res = client.get("/api/runs?project=none")
        took = time.monotonic() - started
        gate.set()
        for t in waiting:
            t.join(30)
    assert res.status_code == 200 and res.json() == [] and took < 5


MANY = """
import runhive as wandb

for k in range(2):
    run = wandb.init(project="many", name=f"r{k}", reinit="create_new")
    for i in range(20):
        run.log({f"m{j:02d}": i * j + k for j in range(60)})
    run.finish()
"""


def test_a_many_metric_project_fetches_and_draws_the_charts_in_view_first(
    rh: RhEnv, page: Page, tmp_path: Path
) -> None:
    rh.run(MANY)
    base, _ = start_ui(rh)
    p = page.page
    metric_requests: list[str] = []
    p.on("request", lambda r: metric_requests.append(r.url) if "/api/metrics?" in r.url else None)
    p.goto(base + "/#/p/many")
    p.wait_for_selector("body[data-ready='#/p/many']")
    drawn = "() => [...document.querySelectorAll('.chart')].filter(d => d.data).length"
    first = p.evaluate(drawn)
    assert 0 < first < 60 and len(metric_requests) == 1  # the charts near the screen, in one request
    screenshot(page, tmp_path, "many-metrics-top")
    p.evaluate("() => document.querySelector('.chart[data-key=\"m59\"]').scrollIntoView()")
    p.wait_for_function("() => !!document.querySelector('.chart[data-key=\"m59\"]').data")
    assert p.evaluate(drawn) > first
    assert "m59" not in metric_requests[0] and any("key=m59" in u for u in metric_requests[1:])
    assert p.evaluate("() => document.querySelector('.chart[data-key=\"m59\"]').data[0].y[3]") == 3 * 59
    assert not page.errors, page.errors
