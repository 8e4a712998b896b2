"""Issue 15, item 10: the dashboard's security. Stored names (projects, runs, metric keys, config keys, tags,
sweeps) reach plotly and the DOM as text, never markup; only requests naming this machine (or an allowed host)
are answered; every response carries a strict Content-Security-Policy and friends; bad requests answer 4xx JSON
and the unexpected a JSON 500, never a traceback or a file-system path; run ids with `%` and `&` work; a
dashboard listening beyond this machine warns; and `init()` refuses project and entity names W&B refuses."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

import test_ui
from conftest import RhEnv, wait_for
from test_ui import Page, _free_port

browser_page = test_ui.browser_page  # the fixture: Debian's headless Chromium driven by Playwright

UI_MAIN = "import sys; from runhive.cli._main import main; sys.exit(main(sys.argv[1:]))"

A = '<a href="http://x">x</a>'
SPAN = '<span style="position:fixed;top:0;left:0">S</span>'
# Project names cannot contain / \ # ? % : (W&B's rule), so this one injects with other markup; `&amp;` shows
# that an ampersand is escaped too (it must read as typed, not as "&").
PROJECT = "<b>P&amp;Q<img src=x onerror=alert(1)>"
RUN_ID = "a%b&c"

EVIL = f"""
import runhive as wandb

A, SPAN, PROJECT = {A!r}, {SPAN!r}, {PROJECT!r}
run = wandb.init(project=PROJECT, name=A, id={RUN_ID!r}, config={{SPAN: 1, "opt": A}}, tags=[A, SPAN], notes=SPAN)
for i in range(5):
    run.log({{A: i, SPAN: 2 * i}})
run.finish()

sid = wandb.sweep(
    {{"name": SPAN, "method": "grid", "metric": {{"name": A, "goal": "minimize"}},
     "parameters": {{SPAN: {{"values": [A, "<b>b</b>"]}}}}}},
    project=PROJECT,
)

def main():
    run = wandb.init()
    run.log({{A: 1 if run.config[SPAN] == A else 2}})

wandb.agent(sid, function=main)
print("SWEEP", sid)
"""

PLAIN = f"""
import runhive as wandb

run = wandb.init(project="dash", name="plain", id={RUN_ID!r}, config={{"lr": 0.1}})
for i in range(5):
    run.log({{"loss": 1.0 / (i + 1)}})
run.finish()
print("ENTITY", run.entity)
"""


def _request(base: str, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET `path` from the server at `base`, with the Host header `host` if given: (status, headers, body)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host} if host is not None else {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def _json_of(base: str, path: str) -> tuple[int, Any]:
    status, headers, body = _request(base, path)
    assert headers["content-type"].startswith("application/json"), (path, status, body[:200])
    return status, json.loads(body)


def start_ui(rh: RhEnv, *args: str, env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen[str]]:
    """`runhive ui --port P ARGS...` in the background (rh's clean-up stops it by pid); its base URL once up."""
    port = _free_port()
    proc = rh.spawn(UI_MAIN, "ui", "--port", str(port), *args, env=env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"runhive ui exited: {proc.communicate()}")
        try:
            return _request(base, "/")[0] == 200
        except OSError:
            return False

    wait_for(up, 30, "runhive ui to answer")
    return base, proc


def _stop(proc: subprocess.Popen[str]) -> str:
    """Stop a server this test started (by its Popen) and return what it printed on stderr."""
    proc.kill()
    return proc.communicate(timeout=10)[1]


@pytest.fixture
def plain_ui(rh: RhEnv) -> tuple[str, str]:
    """A store with project "dash" (run id "a%b&c", metric "loss") and a sweep whose stored parameters are a list;
    the dashboard's base URL and the runs' entity."""
    entity = rh.run(PLAIN).stdout.split("ENTITY", 1)[1].strip()
    rh.cli("service", "stop")  # the store has one writer: add the malformed sweep while the daemon is down
    now = time.time()
    with sqlite3.connect(rh.store) as db:
        db.execute(
            "INSERT INTO sweeps (id, entity, project, name, config, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "listy",
                entity,
                "dash",
                "",
                json.dumps(
                    {"method": "grid", "metric": "loss", "parameters": [{"name": "x", "values": [1]}]}
                ),
                "RUNNING",
                now,
                now,
            ),
        )
    db.close()
    return start_ui(rh)[0], entity


# 1. Names are text, never markup ---------------------------------------------------------------------------------

INJECTED = """() => [...document.querySelectorAll(
    '[href="http://x"], svg a, [style*="position:fixed"], [style*="position: fixed"], img, b'
  )].map(e => e.outerHTML)"""


def _no_injection(page: Any, where: str) -> None:
    assert page.evaluate(INJECTED) == [], where


def test_names_reach_plotly_and_the_page_as_text(rh: RhEnv, browser_page: Page) -> None:
    rh.run(EVIL, timeout=180)
    base, _ = start_ui(rh)
    page = browser_page.page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    page.goto(base + "/")
    page.wait_for_selector("a.project-link")
    assert page.inner_text("a.project-link") == PROJECT
    _no_injection(page, "projects page")

    page.click("a.project-link")
    page.wait_for_selector("body[data-ready^='#/p/']")
    page.wait_for_selector("a.sweep-link")
    assert page.inner_text("main h2") == PROJECT
    assert page.locator("tr.run-row a").first.inner_text() == A  # the oldest run; the sweep's runs follow
    assert SPAN in page.inner_text("a.sweep-link")
    titles = page.evaluate("() => [...document.querySelectorAll('.chart .gtitle')].map(e => e.textContent)")
    assert sorted(titles) == sorted([A, SPAN])  # plotly shows the escaped keys as typed
    # Hover labels show the run's name as typed too.
    page.evaluate(
        """() => { const div = document.querySelector('.chart');
                   const i = div.data.findIndex(t => t.name && t.name.startsWith('&lt;a'));
                   Plotly.Fx.hover(div, [{ curveNumber: i, pointNumber: 1 }]); }"""
    )
    page.wait_for_selector(".chart .hoverlayer .hovertext")
    hover = page.evaluate("() => document.querySelector('.chart .hoverlayer').textContent")
    assert '<a href="' in hover, hover  # plotly shortens long names in hover labels
    _no_injection(page, "hover label")
    legends = page.evaluate(
        "() => [...document.querySelectorAll('.chart .legendtext')].map(e => e.textContent)"
    )
    assert A in legends
    _no_injection(page, "project page")

    page.locator("tr.run-row a").first.click()  # the run's id is "a%b&c": item 6
    page.wait_for_selector("body[data-ready^='#/r/']")
    assert json.loads(page.inner_text("#config")) == {SPAN: 1, "opt": A}
    assert page.evaluate("() => [...document.querySelectorAll('#tags .tag')].map(e => e.textContent)") == [
        A,
        SPAN,
    ]
    titles = page.evaluate("() => [...document.querySelectorAll('.chart .gtitle')].map(e => e.textContent)")
    assert set([A, SPAN]) <= set(titles)
    _no_injection(page, "run page")

    page.go_back()
    page.wait_for_selector("body[data-ready^='#/p/']")
    page.click("a.sweep-link")
    try:
        page.wait_for_selector("#parcoords .axis-title")
    except Exception as exc:
        raise AssertionError(
            f"no parallel coordinates: {page.inner_text('main')[:300]} {console} {browser_page.errors}"
        ) from exc
    assert SPAN in page.inner_text("main h2")
    axes = page.evaluate(
        "() => [...document.querySelectorAll('#parcoords .axis-title')].map(e => e.textContent)"
    )
    assert axes == [SPAN, A]
    ticks = page.evaluate(
        "() => [...document.querySelectorAll('#parcoords .tick text')].map(e => e.textContent)"
    )
    assert A in ticks and "<b>b</b>" in ticks
    _no_injection(page, "sweep page")
    assert not browser_page.errors, browser_page.errors
    csp = [m for m in console if "Content Security Policy" in m]
    assert not csp, csp  # the Content-Security-Policy blocked nothing the page needs


# 2. Host header --------------------------------------------------------------------------------------------------


def test_only_requests_naming_this_machine_or_an_allowed_host_are_answered(rh: RhEnv) -> None:
    base, proc = start_ui(rh, "--allowed-host", "dash.example", "--allowed-host", "Other.Example")
    port = urllib.parse.urlsplit(base).port
    for refused in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", "", "a b"):
        status, headers, body = _request(base, "/api/projects", host=refused)
        assert status == 400, (refused, status, body)
        assert headers["x-frame-options"] == "DENY"  # refusals carry the security headers too
    for allowed in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"[::1]:{port}",
        "localhost",
        f"dash.example:{port}",
        "other.example",
    ):
        assert _request(base, "/api/projects", host=allowed)[0] == 200, allowed
    assert "WARNING" not in _stop(proc)  # the default host listens on this machine only: no warning
    bad = rh.cli("ui", "--allowed-host", "dash.*.example", check=False)
    assert bad.returncode == 2 and "--allowed-host 'dash.*.example'" in bad.stderr, bad


def test_allowed_hosts_add_the_listening_address_when_it_names_one() -> None:
    from runhive_service.dashboard._app import UiConfig, allowed_hosts

    local = ["localhost", "127.0.0.1", "::1", "[::1]"]
    assert allowed_hosts(UiConfig(data_dir=Path("."))) == local
    assert allowed_hosts(UiConfig(data_dir=Path("."), host="0.0.0.0")) == local
    assert allowed_hosts(UiConfig(data_dir=Path("."), host="::")) == local
    assert allowed_hosts(UiConfig(data_dir=Path("."), host="192.168.1.5")) == [*local, "192.168.1.5"]
    assert allowed_hosts(UiConfig(data_dir=Path("."), host="fe80::1", allowed_hosts=("Box.Lan",))) == [
        *local,
        "fe80::1",
        "[fe80::1]",
        "box.lan",
    ]


# 3. Security headers ---------------------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(rh: RhEnv, plain_ui: tuple[str, str]) -> None:
    base, _ = plain_ui
    paths = [
        "/",
        "/static/app.js",
        "/static/app.css",
        "/vendor/plotly.min.js",
        "/api/projects",
        "/api/runs?project=dash",
        "/api/runs",
        "/api/run?path=dash/nosuchrun",
        "/api/nosuchendpoint",
        "/nosuchpage",
        "/static/nosuchfile.js",
    ]
    for path in paths:
        _, headers, _ = _request(base, path)
        csp = {d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split("; ")}
        assert csp["default-src"] == ["'none'"], path
        # No inline script, no other origin; eval for plotly's WebGL charts (regl), as the app explains.
        assert csp["script-src"] == ["'self'", "'unsafe-eval'"], path
        assert csp["style-src"] == ["'self'", "'unsafe-inline'"], path  # plotly styles its elements inline
        assert csp["frame-ancestors"] == ["'none'"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path


# 4. and 5. Bad requests: 4xx JSON without paths; the unexpected: JSON 500 -----------------------------------------


def test_malformed_requests_answer_4xx_json(rh: RhEnv, plain_ui: tuple[str, str]) -> None:
    base, entity = plain_ui
    q = urllib.parse.quote
    bad = {
        "/api/runs?project=a/b/c": 400,
        "/api/runs?project=/": 400,
        "/api/runs?project=a//b": 400,
        "/api/metric?project=a/b/c&key=loss": 400,
        "/api/metric?project=dash": 400,
        "/api/sweeps?project=a/b/c": 400,
        "/api/run?path=a/b/c/d": 400,
        "/api/run?path=/": 400,
        "/api/run": 400,
        "/api/run?path=dash/nosuchrun": 404,
        f"/api/run?path={q(f'{entity}/other/{RUN_ID}', safe='')}": 404,
        "/api/sweep?path=dash/nosuchsweep": 404,
        "/api/sweep?path=a/b/c/d": 400,
        "/api/nosuchendpoint": 404,
        "/api/run?path=%FF%00": 404,
        "/api/runs?project=%25%ZZ/%2F": 400,
    }
    for path, want in bad.items():
        status, body = _json_of(base, path)
        assert status == want and isinstance(body["error"], str), (path, status, body)
        assert "Traceback" not in body["error"], (path, body)
    # A sweep stored with list-shaped parameters and a string metric: shown without parameter columns.
    status, sweep = _json_of(base, f"/api/sweep?path={q(f'{entity}/dash/listy', safe='')}")
    assert status == 200 and sweep["params"] == [] and sweep["metric"] is None, sweep
    status, sweeps = _json_of(base, "/api/sweeps?project=dash")
    assert status == 200 and [s["id"] for s in sweeps] == ["listy"], sweeps


def test_unexpected_failures_answer_json_500_without_a_traceback(rh: RhEnv, tmp_path: Path) -> None:
    data = tmp_path / "broken"
    data.mkdir()
    (data / "runhive.db").write_bytes(b"this is not a database" * 100)
    base, proc = start_ui(rh, env={"RUNHIVE_DATA_DIR": str(data)})
    for path in ("/api/projects", "/api/runs?project=dash", "/api/run?path=dash/x"):
        status, headers, body = _request(base, path)
        assert status == 500, (path, status, body)
        assert headers["content-type"].startswith("application/json")
        assert headers["x-content-type-options"] == "nosniff"
        error = json.loads(body)["error"]
        assert "internal error" in error and "Traceback" not in error and str(tmp_path) not in error
    assert "Traceback" in _stop(proc)  # the server's log has the details


def test_no_response_names_a_file_system_path(rh: RhEnv, plain_ui: tuple[str, str]) -> None:
    base, entity = plain_ui
    q = urllib.parse.quote
    paths = [
        "/",
        "/static/app.js",
        "/api/projects",
        "/api/runs?project=dash",
        "/api/runs?project=a/b/c",
        f"/api/run?path={q(f'{entity}/dash/{RUN_ID}', safe='')}",
        "/api/run?path=dash/nosuchrun",
        "/api/run?path=nosuchrun",
        "/api/run?path=a/b/c/d",
        "/api/sweep?path=nosuchsweep",
        "/api/sweep?path=dash/listy",
        "/api/sweeps?project=dash",
        "/api/metric?project=dash&key=loss",
        "/api/nosuchendpoint",
    ]
    for path in paths:
        body = _request(base, path)[2].decode()
        for secret in (str(rh.root), str(rh.data), str(rh.svc), str(Path(rh.root).resolve())):
            assert secret not in body, (path, body[:300])


# 6. Run ids with % and & -----------------------------------------------------------------------------------------


def test_run_ids_with_percent_and_ampersand_work(
    rh: RhEnv, plain_ui: tuple[str, str], browser_page: Page
) -> None:
    base, entity = plain_ui
    q = urllib.parse.quote
    status, run = _json_of(base, f"/api/run?path={q(f'{entity}/dash/{RUN_ID}', safe='')}")
    assert status == 200 and run["id"] == RUN_ID and run["keys"] == ["loss"]
    status, series = _json_of(base, f"/api/metric?project=dash&key=loss&runs={q(RUN_ID, safe='')}")
    assert status == 200 and list(series) == [RUN_ID] and len(series[RUN_ID]["step"]) == 5
    page = browser_page.page
    page.goto(base + "/#/p/dash")
    page.wait_for_selector("tr.run-row a")
    page.click("tr.run-row a")
    page.wait_for_selector("body[data-ready^='#/r/']")
    assert json.loads(page.inner_text("#config")) == {"lr": 0.1}
    assert page.evaluate("() => document.querySelector('.chart[data-key=\"loss\"]').data[0].x.length") == 5
    assert "Error" not in page.inner_text("main")
    assert not browser_page.errors, browser_page.errors


# 7. Listening beyond this machine warns --------------------------------------------------------------------------


def test_ui_on_a_network_address_warns(rh: RhEnv) -> None:
    _, proc = start_ui(rh, "--host", "0.0.0.0")  # reached as 127.0.0.1: this machine's names stay allowed
    err = _stop(proc)
    assert "WARNING: --host 0.0.0.0 exposes the store to the network without a login" in err, err


def test_which_hosts_listen_beyond_this_machine() -> None:
    from runhive.cli._main import _listens_beyond_this_machine as beyond

    assert not any(beyond(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert all(beyond(h) for h in ("0.0.0.0", "::", "192.168.1.5", "fe80::1", "box.lan"))


# 8. init() refuses the project and entity names W&B refuses ------------------------------------------------------


@pytest.mark.parametrize("char", list("/\\#?%:"))
@pytest.mark.parametrize("what", ["project", "entity"])
def test_init_refuses_names_with_path_characters(rh: RhEnv, what: str, char: str) -> None:
    import runhive

    value = f"my{char}name"
    with pytest.raises(runhive.UsageError) as info:
        runhive.init(mode="disabled", **{what: value})  # type: ignore[arg-type]
    message = str(info.value)
    assert f"Invalid {what} name {value!r}" in message  # the argument and the value
    assert f"contains {char!r}" in message  # the character
    assert f"Pass {what}= a name without them, e.g. {what}='my-name'." in message  # the fix


def test_init_refuses_project_names_over_128_characters(rh: RhEnv) -> None:
    import runhive

    with pytest.raises(runhive.UsageError, match="129 characters; pass project= a name of at most 128"):
        runhive.init(project="p" * 129, mode="disabled")
    run = runhive.init(project="p" * 128, entity="<team & co>", mode="disabled")
    run.finish()


def test_init_checks_the_project_from_the_environment_too(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import runhive

    monkeypatch.setenv("WANDB_PROJECT", "team:proj")
    with pytest.raises(runhive.UsageError, match="Invalid project name 'team:proj'"):
        runhive.init(mode="disabled")
