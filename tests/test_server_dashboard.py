"""The dashboard served by `runhive server` (issues 14 and 15): log in with an API key, a session cookie, and the
same pages as `runhive ui` for the runs the logged-in user may read. Real server (SQLite and PostgreSQL 15), real
daemons uploading real runs, Debian's headless Chromium through Playwright."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from pathlib import Path

from _pg import ServerProcess, server_db
from conftest import RhEnv
from test_ui_common import Page, browser, page, screenshot
from test_upload_server import admin, client_env

__all__ = ["browser", "page", "server_db"]

LOG = """
import sys, runhive
run = runhive.init(project=sys.argv[1], name=sys.argv[2], config={"lr": 0.01, "layers": 4},
                   settings=runhive.Settings(finish_timeout=120))
import numpy as np
for step in range(50):
    run.log({"loss": 1.0 / (step + 1), "acc": step / 50})
run.log({"sample": runhive.Image(np.full((8, 8, 3), 200, dtype=np.uint8), caption="grey")})
with open("notes.txt", "w") as f:
    f.write("saved by " + sys.argv[2])
run.save("notes.txt", policy="now")
run.finish()
print("RUN", run.entity, run.id, run.url, flush=True)
"""


def log_run(rh: RhEnv, url: str, key: str, project: str, name: str) -> tuple[str, str]:
    out = rh.run(LOG, project, name, env=client_env(rh, url, key), timeout=180).stdout
    entity, run_id, run_url = out.split("RUN", 1)[1].split()
    # run.url is the run's page on the server's dashboard, as W&B's points at wandb.ai
    assert run_url == f"{url.rstrip('/')}/#/r/{entity}/{project}/{run_id}", run_url
    return entity, run_id


def request(
    url: str,
    path: str,
    *,
    method: str = "GET",
    cookie: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = f"runhive_session={cookie}"
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def login(url: str, key: str) -> str:
    """The session token POST /login sets for `key` (as the login form posts it)."""
    origin = url.rstrip("/")
    status, headers, body = request(
        url,
        "/login",
        method="POST",
        body=urllib.parse.urlencode({"key": key, "next": "/"}),
        headers={"Origin": origin},
    )
    assert status == 303 and headers["location"] == "/", (status, body[:300])
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie, cookie
    return cookie.split("runhive_session=", 1)[1].split(";", 1)[0]


def test_dashboard_login_and_per_user_reads(rh: RhEnv, server_db: str, page: Page, tmp_path: Path) -> None:
    p = page.page
    alice = admin(server_db, "user", "create", "alice")
    bob = admin(server_db, "user", "create", "bob")
    server = ServerProcess(server_db, "--files", str(tmp_path / "files"))
    try:
        url = server.wait_ready()
        base = url.rstrip("/")
        _, run_id = log_run(rh, url, alice, "vision", "baseline")
        log_run(rh, url, bob, "bobs-secrets", "hidden")

        # Without a session: pages go to the login form, dashboard answers are 401 JSON, the API stays Bearer.
        status, headers, _ = request(url, "/")
        assert status == 303 and headers["location"].startswith("/login?next=/")
        status, _, body = request(url, "/api/projects")
        assert status == 401 and json.loads(body)["login"] == "/login"
        status, _, body = request(url, "/api/v1/nothing-here")
        assert status == 404, body  # an API client gets a 404, not the dashboard's login
        status, _, _ = request(url, "/static/app.css")
        assert status == 200  # the page's code is not data: served without a login

        # The browser: the login form, a wrong key (its error shown as text), then alice's key.
        p.goto(base + "/")
        p.wait_for_selector("form[action='/login']")
        assert p.url.startswith(base + "/login")
        p.fill("#key", "rhk_000000000000_not-a-key-at-all-xxxxxxxx")
        p.click("#login")
        p.wait_for_selector("p.error")
        assert "the server does not know it" in p.inner_text("p.error")
        screenshot(page, tmp_path, "server-login-refused")
        p.fill("#key", alice)
        p.click("#login")
        p.wait_for_selector("body[data-ready]")
        projects = p.eval_on_selector_all("a.project-link", "els => els.map(e => e.textContent)")
        assert projects == ["vision"], projects  # bob's private project is not listed for alice
        screenshot(page, tmp_path, "server-projects")
        p.goto(base + "/#/p/vision")
        p.wait_for_selector("body[data-ready='#/p/vision']")
        p.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        assert "baseline" in p.inner_text("body")
        screenshot(page, tmp_path, "server-project")
        p.goto(base + f"/#/r/alice/vision/{run_id}")  # run.url
        p.wait_for_selector(f"body[data-ready='#/r/alice/vision/{run_id}']")
        assert "baseline" in p.inner_text("body")
        p.wait_for_function(
            "() => [...document.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 0)"
        )
        screenshot(page, tmp_path, "server-run")
        cookies = {c["name"]: c for c in p.context.cookies()}
        session = cookies["runhive_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"

        # Reads go through the read API as the logged-in user: bob's project is refused with its reason.
        token = session["value"]
        status, _, body = request(url, "/api/runs?project=bob/bobs-secrets", cookie=token)
        assert status == 400 and "permission denied" in json.loads(body)["error"], body
        status, _, body = request(url, "/api/runs?project=alice/vision", cookie=token)
        assert status == 200 and [r["name"] for r in json.loads(body)] == ["baseline"]
        status, _, body = request(
            url, f"/api/metrics?project=alice/vision&key=loss&runs={run_id}", cookie=token
        )
        assert status == 200 and len(json.loads(body)["loss"][run_id]["last"]) == 50
        # The run's files and media come from the server's file store, through the same reader.
        run_path = f"alice/vision/{run_id}"
        status, _, body = request(url, f"/api/run/files?path={run_path}", cookie=token)
        names = [f["name"] for f in json.loads(body)] if status == 200 else body
        assert status == 200 and "notes.txt" in names, names
        status, _, body = request(url, f"/api/run/file?path={run_path}&name=notes.txt", cookie=token)
        assert (status, body) == (200, b"saved by baseline")
        status, _, body = request(url, f"/api/run/media?path={run_path}", cookie=token)
        assert status == 200 and "sample" in json.dumps(json.loads(body)), body[:300]
        status, _, body = request(
            url, f"/api/run/file?path=bob/bobs-secrets/{run_id}&name=notes.txt", cookie=token
        )
        assert status in (400, 404), body  # not alice's to read
        status, _, body = request(url, "/api/whoami", cookie=token)
        assert json.loads(body)["user"] == "alice"

        # bob's own session sees only bob's project.
        bob_token = login(url, bob)
        status, _, body = request(url, "/api/projects", cookie=bob_token)
        assert [p["project"] for p in json.loads(body)] == ["bobs-secrets"]

        # A login posted from another site is refused (login CSRF); a forged cookie is not a session.
        status, _, _ = request(
            url,
            "/login",
            method="POST",
            body=urllib.parse.urlencode({"key": alice}),
            headers={"Origin": "http://attacker.example"},
        )
        assert status == 403
        status, _, _ = request(url, "/api/projects", cookie=token[:-4] + "AAAA")
        assert status == 401

        # Logging out ends the session, on the server (the token is dead, not just the cookie).
        p.goto(base + "/logout")
        p.click("#logout")
        p.wait_for_selector("form[action='/login']")
        status, _, _ = request(url, "/api/projects", cookie=token)
        assert status == 401

        # Revoking the API key a session was opened with ends that session too.
        status, _, _ = request(url, "/api/projects", cookie=bob_token)
        assert status == 200
        key_id = bob.split("_")[1]
        admin(server_db, "key", "revoke", key_id)
        status, _, body = request(url, "/api/projects", cookie=bob_token)
        assert status == 401 and "log in again" in json.loads(body)["error"]
    finally:
        server.stop()


def test_next_page_after_login_stays_on_this_server(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        for asked, lands in (
            ("/#/p/vision", "/#/p/vision"),
            ("//attacker.example/", "/"),
            ("https://attacker.example/", "/"),
            ("/\\attacker.example", "/"),
        ):
            status, headers, _ = request(
                url,
                "/login",
                method="POST",
                body=urllib.parse.urlencode({"key": alice, "next": asked}),
                headers={"Origin": url.rstrip("/")},
            )
            assert status == 303 and headers["location"] == lands, (asked, headers.get("location"))
        # The login page escapes what it echoes.
        status, _, body = request(url, "/login?next=" + urllib.parse.quote('/"><script>alert(1)</script>'))
        assert status == 200 and b"<script>" not in body
    finally:
        server.stop()


def test_no_dashboard_flag(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    server = ServerProcess(db, "--no-dashboard")
    try:
        url = server.wait_ready()
        assert any("no dashboard" in line for line in server.lines), server.lines
        status, _, _ = request(url, "/")
        assert status == 404
        status, _, body = request(url, "/healthz")
        assert status == 200 and json.loads(body)["ok"]
    finally:
        server.stop()


SWEEP = """
import json, sys, runhive
print("SWEEP", runhive.sweep(json.loads(sys.argv[1]), project="tuning"), flush=True)
"""


def test_sweep_buttons_act_as_the_logged_in_user(rh: RhEnv, tmp_path: Path, page: Page) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    bob = admin(db, "user", "create", "bob")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        base = url.rstrip("/")
        config = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}
        out = rh.run(SWEEP, json.dumps(config), env=client_env(rh, url, alice), timeout=120).stdout
        sweep_id = out.split("SWEEP", 1)[1].split()[0]
        path = f"alice/tuning/{sweep_id}"
        action = {"X-Runhive-Action": "1", "Origin": base}

        # alice pauses her sweep from the sweep page's button
        p = page.page
        p.goto(base + "/login?next=" + urllib.parse.quote(f"/#/s/{path}"))
        p.fill("#key", alice)
        p.click("#login")
        p.wait_for_selector(f"body[data-ready='#/s/{path}']")
        token = {c["name"]: c["value"] for c in p.context.cookies()}["runhive_session"]
        status, _, body = request(url, f"/api/sweep?path={path}", cookie=token)
        assert status == 200 and json.loads(body)["controls"] is True
        for act, state in (("resume", "RUNNING"), ("pause", "PAUSED")):  # a new sweep is PENDING
            status, _, body = request(
                url,
                f"/api/sweep/control?path={path}&action={act}",
                method="POST",
                cookie=token,
                headers=action,
            )
            assert status == 200 and json.loads(body)["state"] == state, body
        screenshot(page, tmp_path, "server-sweep")

        # bob may not: his session gets the server's permission words, and the sweep stays paused
        bob_token = login(url, bob)
        status, _, body = request(
            url,
            f"/api/sweep/control?path={path}&action=resume",
            method="POST",
            cookie=bob_token,
            headers=action,
        )
        assert status == 409 and "permission denied" in json.loads(body)["error"], body
        status, _, body = request(url, f"/api/sweep?path={path}", cookie=token)
        assert json.loads(body)["state"] == "PAUSED"
        # without the dashboard's header (a form on another site) nothing changes
        status, _, _ = request(
            url,
            f"/api/sweep/control?path={path}&action=resume",
            method="POST",
            cookie=token,
            headers={"Origin": base},
        )
        assert status == 403
    finally:
        server.stop()


TEAM_LOG = """
import sys, runhive
run = runhive.init(entity=sys.argv[1], project=sys.argv[2], settings=runhive.Settings(finish_timeout=120))
for step in range(5):
    run.log({"loss": 1.0 / (step + 1)})
run.finish()
print("RUN", run.id, flush=True)
"""


def test_team_projects_and_who_is_logged_in(rh: RhEnv, tmp_path: Path, page: Page) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    admin(db, "team", "create", "lab")
    admin(db, "team", "add", "lab", "alice", "--role", "member")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        base = url.rstrip("/")
        env = client_env(rh, url, alice)
        team_run = (
            rh.run(TEAM_LOG, "lab", "shared", env=env, timeout=120).stdout.split("RUN", 1)[1].split()[0]
        )
        rh.run(TEAM_LOG, "alice", "shared", env=env, timeout=120)  # the same project name in her own entity

        p = page.page
        p.goto(base + "/login")
        p.fill("#key", alice)
        p.click("#login")
        p.wait_for_selector("body[data-ready] a.project-link")
        p.wait_for_selector("#who a#logout-link")
        assert p.inner_text("#who").startswith("alice")
        links = p.eval_on_selector_all(
            "a.project-link", "els => els.map(e => [e.textContent, e.getAttribute('href')])"
        )
        assert sorted(links) == [["shared", "#/p/alice%2Fshared"], ["shared", "#/p/lab%2Fshared"]], links
        p.click("a.project-link[href='#/p/lab%2Fshared']")
        p.wait_for_selector("body[data-ready='#/p/lab%2Fshared']")
        p.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        assert team_run in p.content()
        screenshot(page, tmp_path, "server-team-project")
    finally:
        server.stop()
