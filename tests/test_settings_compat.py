"""Every field of W&B's `Settings` is accepted, and those that mean something here are honoured (issue 12 item 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import runhive
from conftest import RhEnv
from runhive.sdk._settings import _SECONDS, WANDB_SETTINGS, Settings

SECRET = "rh-test-api-key-5f0c1d9e2b7a4c3e8d6f"


def _value(name: str, root: Path) -> Any:
    """A value for every W&B setting: W&B-like ones where runhive acts on it, a marker where it has no effect."""
    honoured: dict[str, Any] = {
        "mode": "online",
        "project": "compat",
        "entity": "compat-team",
        "run_name": "every-setting",
        "run_notes": "notes",
        "run_group": "g",
        "run_job_type": "train",
        "run_tags": ("a", "b"),
        "reinit": "finish_previous",
        "resume": None,  # W&B: resume, resume_from and fork_from exclude each other
        "run_id": None,
        "root_dir": str(root),
        "disable_code": False,
        "save_code": False,
        "disable_git": False,
        "code_dir": None,
        "program": None,
        "silent": False,
        "quiet": False,
        "show_info": True,
        "show_warnings": True,
        "show_errors": True,
        "console": "off",
        "api_key": SECRET,
        # A base_url names a team server that init() then logs to: test_api_key_and_base_url_... covers it.
        "base_url": None,
        "x_stats_sampling_interval": 15.0,
        "x_disable_stats": True,
    }
    if name in honoured:
        return honoured[name]
    if name in _SECONDS or name == "x_service_wait":
        return 30.0
    return f"<{name}>"


# The table -------------------------------------------------------------------------------------------------


def test_table_lists_every_wandb_setting() -> None:
    assert len(WANDB_SETTINGS) == len(set(WANDB_SETTINGS)) == 156
    for name in (
        "console",
        "quiet",
        "show_info",
        "disable_git",
        "code_dir",
        "api_key",
        "base_url",
        "anonymous",
    ):
        assert name in WANDB_SETTINGS
    assert "resume_from" in WANDB_SETTINGS and "x_stats_sampling_interval" in WANDB_SETTINGS


@pytest.mark.skipif(
    not os.environ.get("RUNHIVE_TEST_WANDB_PYTHON"),
    reason="set RUNHIVE_TEST_WANDB_PYTHON to a python with wandb installed (a throwaway venv) to compare",
)
def test_table_matches_wandb_source() -> None:
    out = subprocess.run(
        [
            os.environ["RUNHIVE_TEST_WANDB_PYTHON"],
            "-c",
            "import json, wandb; print(json.dumps([wandb.__version__, list(wandb.Settings.model_fields)]))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    version, names = json.loads(out.strip().splitlines()[-1])
    from runhive.sdk._settings import WANDB_SETTINGS_VERSION

    assert (version, tuple(names)) == (WANDB_SETTINGS_VERSION, WANDB_SETTINGS)


# Accepted by Settings(...) and init(settings=...) --------------------------------------------------------


@pytest.mark.parametrize("name", WANDB_SETTINGS)
def test_every_wandb_setting_is_accepted_by_settings(name: str, tmp_path: Path) -> None:
    value = _value(name, tmp_path)
    if value is None:
        value = "allow" if name == "resume" else "x"
    s = Settings(**{name: value})
    assert getattr(s, "service_wait" if name == "x_service_wait" else name) == value
    assert Settings().merged({name: value}).to_dict() == s.to_dict()
    if name.startswith("x_"):  # W&B's legacy private spelling: `_name` is `x_name`
        assert Settings(**{name[1:]: value}).to_dict() == s.to_dict()


def test_every_wandb_setting_is_accepted_by_init(rh: RhEnv) -> None:
    values = {name: _value(name, rh.work) for name in WANDB_SETTINGS}
    run = runhive.init(settings=Settings(**values), id="compat01")
    assert (run.project, run.entity, run.name) == ("compat", "compat-team", "every-setting")
    assert run.settings.anonymous == "<anonymous>" and run.settings.resume_from == "<resume_from>"
    assert run.settings.console == "off" and run.settings.api_key == SECRET
    run.log({"a": 1})
    run.finish()
    run = runhive.init(settings=values, id="compat02")  # a plain dict, as W&B allows
    assert run.settings.stop_fn == "<stop_fn>" and run.settings.x_primary == "<x_primary>"
    run.finish()
    states = {r.id: r.state for r in rh.api().runs("compat-team/compat")}
    assert states == {"compat01": "finished", "compat02": "finished"}


def test_unset_wandb_settings_read_as_none_and_assignment_is_checked() -> None:
    s = Settings()
    assert s.anonymous is None and s.x_stats_gpu_count is None and s.console is None
    s.quiet = True
    s.anonymous = "allow"
    s._disable_meta = True
    assert s.quiet is True and s.extra == {"anonymous": "allow", "x_disable_meta": True}
    with pytest.raises(runhive.UsageError, match=r"'quite'.*'quiet'"):
        s.quite = True
    assert not hasattr(s, "quite") and getattr(s, "nothing_like_it", 7) == 7


def test_misspelt_setting_raises_naming_it_and_the_closest_names(rh: RhEnv) -> None:
    with pytest.raises(runhive.UsageError, match=r"unknown argument 'consol'\. Did you mean 'console'\?"):
        runhive.Settings(consol="off")
    with pytest.raises(
        runhive.UsageError, match=r"'x_stats_sampling_intervall'.*'x_stats_sampling_interval'"
    ):
        runhive.Settings(x_stats_sampling_intervall=1.0)
    with pytest.raises(runhive.UsageError, match=r"unknown argument 'show_warning'.*'show_warnings'"):
        runhive.init(project="p", settings={"show_warning": False})
    with pytest.raises(runhive.UsageError, match=r"unknown argument '_disable_statz'.*'x_disable_stats'"):
        runhive.init(project="p", settings={"_disable_statz": True})
    # W&B's model forbids unknown private names too; no close name: runhive's own are listed.
    with pytest.raises(runhive.UsageError, match=r"unknown argument 'zzz_nothing'\. .*service_dir"):
        runhive.Settings(zzz_nothing=1)
    assert runhive.run is None


def test_legacy_spellings_aliases_and_value_checks() -> None:
    assert Settings(_disable_stats=True).x_disable_stats is True
    assert Settings(_stats_sampling_interval=2).x_stats_sampling_interval == 2.0
    assert Settings(x_primary_node=False).x_primary is False
    assert Settings(x_service_wait=5).resolved_service_wait == 5.0  # W&B's name for runhive's service_wait
    assert Settings(mode="shared").resolved_mode == "online"
    assert Settings(quiet="true").quiet is True and Settings(disable_git="0").disable_git is False
    assert (
        Settings(init_timeout="12").resolved_init_timeout == 12.0 and Settings().resolved_init_timeout == 90.0
    )
    for console in ("auto", "off", "wrap", "redirect", "wrap_raw", "wrap_emu"):
        assert Settings(console=console).console == console
    with pytest.raises(runhive.UsageError, match="Invalid console='nope'"):
        Settings(console="nope")
    with pytest.raises(runhive.UsageError, match=r"cannot be less than 0\.1 seconds"):
        Settings(x_stats_sampling_interval=0.05)
    with pytest.raises(runhive.UsageError, match="init_timeout must be a number of seconds"):
        Settings(init_timeout="soon")


# Honoured ------------------------------------------------------------------------------------------------

TERMINAL = """
import json, sys
import runhive
from runhive.sdk._termlog import logger

settings = json.loads(sys.argv[1])
run = runhive.init(project="t", settings=settings, magic=True)  # a real warning line
runhive.init(project="t", settings=settings, reinit="return_previous")  # a real info line
logger().info("INFO-LINE")
logger().warning("WARN-LINE")
logger().error("ERROR-LINE")
run.finish()
"""


@pytest.mark.parametrize(
    ("settings", "env", "shown"),
    [
        ({}, {}, {"info", "warn", "error"}),
        ({"quiet": True}, {}, {"warn", "error"}),
        ({"silent": True}, {}, set()),
        ({"show_info": False}, {}, {"warn", "error"}),
        ({"show_warnings": False}, {}, {"info", "error"}),
        ({"show_errors": False}, {}, {"info", "warn"}),
        ({}, {"WANDB_SILENT": "true"}, set()),
        ({}, {"RUNHIVE_QUIET": "1"}, {"warn", "error"}),
        ({"quiet": False}, {"WANDB_QUIET": "true"}, {"info", "warn", "error"}),  # init(settings=) wins
    ],
)
def test_terminal_lines_obey_quiet_silent_and_show(
    rh: RhEnv, settings: dict[str, Any], env: dict[str, str], shown: set[str]
) -> None:
    err = rh.run(TERMINAL, json.dumps(settings), env=env).stderr
    seen = {
        "info": "INFO-LINE" in err and "returning the previous run" in err,
        "warn": "WARN-LINE" in err and "magic" in err,
        "error": "ERROR-LINE" in err,
    }
    assert {k for k, v in seen.items() if v} == shown, err
    if not shown:
        assert "runhive:" not in err, err


def test_console_modes_are_accepted_and_off_captures_nothing(rh: RhEnv) -> None:
    # Every W&B console mode is accepted; all but "off" store the output as output.log (tests/test_console.py).
    for console in ("off", "wrap", "redirect", "auto"):
        res = rh.run(
            f"""
            import runhive
            run = runhive.init(project="console", name={console!r}, settings=runhive.Settings(console={console!r}))
            print("hello from the script")
            run.finish()
            """
        )
        assert "hello from the script" in res.stdout
    runs = rh.api().runs("console")
    assert len(runs) == 4 and all(r.state == "finished" for r in runs)
    for r in runs:
        logs = list(Path(r.dir).rglob("output.log"))
        assert (logs == []) if r.name == "off" else (logs[0].read_text() == "hello from the script\n")


def _git_repo(repo: Path) -> None:
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "tracked.txt").write_text("v1\n")
    subprocess.run([*git, "add", "tracked.txt"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "tracked.txt").write_text("v2\n")


@pytest.mark.parametrize(
    ("how", "env"),
    [
        ("settings=runhive.Settings(disable_git=True)", {}),
        ("settings={'disable_git': True}", {}),
        ("", {"WANDB_DISABLE_GIT": "true"}),
        ("", {}),
    ],
)
def test_disable_git_captures_no_git_info(rh: RhEnv, how: str, env: dict[str, str]) -> None:
    _git_repo(rh.work)
    rh.run(f"import runhive\nrunhive.init(project='git', {how}).finish()", env=env)
    stored = rh.api().runs("git")[0]
    files = Path(stored.dir) / "files"
    disabled = bool(how or env)
    assert ("git" in stored.metadata) is not disabled
    assert (files / "diff.patch").exists() is not disabled


def test_code_dir_and_program(rh: RhEnv) -> None:
    src = rh.work / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("A = 1\n")
    (src / "pkg" / "sub" / "b.py").write_text("B = 2\n")
    (src / "notes.txt").write_text("not code\n")
    (src / ".venv" / "lib").mkdir(parents=True)
    (src / ".venv" / "lib" / "site.py").write_text("# not the project's code\n")
    (src / "runhive").mkdir()
    (src / "runhive" / "old_run.py").write_text("# a run directory\n")
    (rh.work / "entry.py").write_text("# the program\n")
    script = """
    import runhive
    run = runhive.init(project="code", settings={"save_code": True, "code_dir": "src", "program": "entry.py"})
    run.finish()
    runhive.init(project="code", settings={"disable_code": True, "save_code": True, "code_dir": "src"}).finish()
    """
    rh.run(script)
    first, second = rh.api().runs("code")
    code = Path(first.dir) / "files" / "code"
    saved = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file())
    assert saved == ["entry.py", "pkg/a.py", "pkg/sub/b.py"]
    assert first.metadata["program"] == "entry.py" and first.metadata["codePath"] == "code/entry.py"
    assert first.metadata["codeDir"] == str((rh.work / "src").resolve())
    assert not (Path(second.dir) / "files" / "code").exists() and "codePath" not in second.metadata
    assert second.metadata["program"] != "entry.py"
    rh.run("import runhive\nrunhive.init(project='code').finish()", env={"WANDB_PROGRAM": "from_env.py"})
    assert rh.api().runs("code")[2].metadata["program"] == "from_env.py"


def test_init_timeout_bounds_the_wait_for_the_daemon(rh: RhEnv) -> None:
    runhive.init(project="slow").finish()  # the daemon is up and this process connected
    (daemon,) = rh.daemon_pids()
    os.kill(daemon, signal.SIGSTOP)  # it answers nothing now
    try:
        t0 = time.monotonic()
        with pytest.raises(runhive.CommError, match=r"timed out after 1.5 sec.*init_timeout"):
            runhive.init(project="slow", settings={"init_timeout": 1.5})
        elapsed = time.monotonic() - t0
    finally:
        os.kill(daemon, signal.SIGCONT)
    assert 1.4 < elapsed < 10, elapsed
    assert runhive.run is None


def test_api_key_and_base_url_name_the_team_server_and_are_never_stored(rh: RhEnv) -> None:
    s = Settings(api_key=SECRET, base_url="http://team-server.invalid:8080")
    assert s.api_key == SECRET and s.base_url == "http://team-server.invalid:8080"
    assert SECRET not in repr(s)
    # W&B's variables stay unread.
    env = Settings.from_env({"WANDB_API_KEY": "w-key", "WANDB_BASE_URL": "https://api.wandb.ai"})
    assert env.api_key is None and env.base_url is None
    # base_url names the team server the run is uploaded to: one that cannot be reached fails init() at once,
    # and the key is written nowhere (tests/test_upload_server.py has a real server).
    res = rh.run(
        f"""
        import runhive
        from runhive.errors import CommError
        try:
            runhive.init(project="keys", settings={{"api_key": {SECRET!r}, "base_url": "http://127.0.0.1:9"}})
        except CommError as exc:
            print("REFUSED", exc)
        """,
        env={
            "WANDB_API_KEY": "w-key",
            "WANDB_BASE_URL": "https://api.wandb.ai",
            "RUNHIVE_SERVER_OPEN_TIMEOUT": "0.5",
        },
    )
    assert "REFUSED" in res.stdout and "cannot reach the team server http://127.0.0.1:9" in res.stdout, res
    for root in (rh.data, rh.work, rh.svc):
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_stats_settings_are_accepted(rh: RhEnv) -> None:
    # The daemon samples system metrics once per node (RUNHIVE_STATS_SAMPLING_INTERVAL): per-run values are
    # validated and kept, and do not change it.
    run = runhive.init(project="stats", settings={"x_stats_sampling_interval": 0.5, "_disable_stats": True})
    assert run.settings.x_stats_sampling_interval == 0.5 and run.settings.x_disable_stats is True
    run.finish()
    with pytest.raises(runhive.UsageError, match=r"less than 0\.1 seconds"):
        runhive.init(project="stats", settings={"x_stats_sampling_interval": 0.01})


def test_mode_shared_is_online(rh: RhEnv) -> None:
    run = runhive.init(project="shared", settings={"mode": "shared"})
    run.finish()
    assert rh.api().runs("shared")[0].state == "finished"
