"""`tutorforge` configuration mistakes (registry, remote, flows, cloud, params): the real entry point as a subprocess
answers one `error:` line on stderr naming the bad option, variable or params key, and exit code 2; never a
traceback, never a side effect (a mirror to s4:// used to copy the directory into a local folder named "s4:").
A runtime failure stays exit code 1, in one line too. tutorforge/cli/errors.py holds the mechanism."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.servers import ROOT, VENV_BIN, free_port

# name: (arguments, environment over the clean one, what the one line must name)
MISTAKES: dict[str, tuple[list[str], dict[str, str], str]] = {
    # registry: location, endpoint, params, credentials; from options, env and params
    "registry_list_scheme": (["registry", "list", "--registry", "s4://x"], {}, "--registry"),
    "registry_list_endpoint": (["registry", "list", "--endpoint-url", "not-a-url"], {}, "--endpoint-url"),
    "registry_list_env_location": (["registry", "list"], {"TUTORFORGE_REGISTRY": "s4://x"}, "TUTORFORGE_REGISTRY"),
    "registry_list_env_endpoint": (
        ["registry", "list", "--registry", "s3://bucket/r"],
        {"TUTORFORGE_S3_ENDPOINT_URL": "not-a-url"},
        "TUTORFORGE_S3_ENDPOINT_URL",
    ),
    "registry_list_aws_endpoint": (
        ["registry", "list", "--registry", "s3://bucket/r"],
        {"AWS_ENDPOINT_URL": "ftp://127.0.0.1"},
        "AWS_ENDPOINT_URL",
    ),
    "registry_list_params_location": (["registry", "list", "--params", "s4-register.yaml"], {}, "register.registry"),
    "registry_list_params_type": (
        ["registry", "list", "--params", "bad-register.yaml"],
        {},
        "register.max_concurrency",
    ),
    "registry_list_missing_dir": (["registry", "list", "--registry", "no-such-registry"], {}, "--registry"),
    "registry_list_no_params_file": (["registry", "list", "--params", "nope.yaml"], {}, "--params"),
    "registry_list_unknown_option": (["registry", "list", "--bogus"], {}, "--bogus"),
    "registry_list_no_credentials": (
        ["registry", "list", "--registry", "s3://bucket/r", "--endpoint-url", "{dead_url}"],
        {},
        "AWS_ACCESS_KEY_ID",
    ),
    "registry_show_scheme": (["registry", "show", "v1", "--registry", "s3:/bucket"], {}, "--registry"),
    "registry_show_no_ref": (["registry", "show"], {}, "'ref'"),
    "registry_promote_endpoint": (["registry", "promote", "v1", "--endpoint-url", "http://"], {}, "--endpoint-url"),
    "registry_rollback_params": (["registry", "rollback", "--params", "nope.yaml"], {}, "--params"),
    "registry_history_empty_bucket": (["registry", "history", "--registry", "s3://"], {}, "--registry"),
    "registry_download_scheme": (["registry", "download", "v1", "out", "--registry", "gs://b/r"], {}, "--registry"),
    # remote
    "remote_setup_url": (["remote", "setup", "--url", "s4://x", "--repo", "dvcrepo"], {}, "--url"),
    "remote_setup_endpoint": (
        ["remote", "setup", "--url", "s3://b/dvc", "--endpoint-url", "not-a-url", "--repo", "dvcrepo"],
        {},
        "--endpoint-url",
    ),
    "remote_setup_env_url": (
        ["remote", "setup", "--repo", "dvcrepo"],
        {"TUTORFORGE_DVC_REMOTE": "s4://x"},
        "TUTORFORGE_DVC_REMOTE",
    ),
    "remote_setup_params_endpoint": (
        ["remote", "setup", "--url", "s3://b/dvc", "--repo", "dvcrepo", "--params", "bad-remote.yaml"],
        {},
        "remote.endpoint_url",
    ),
    "remote_setup_no_url": (["remote", "setup", "--repo", "dvcrepo"], {}, "--url"),
    "remote_setup_not_dvc": (["remote", "setup", "--url", "s3://b/dvc", "--repo", "ckpt"], {}, "--repo"),
    "remote_setup_no_repo": (["remote", "setup", "--url", "s3://b/dvc", "--repo", "no-such-dir"], {}, "--repo"),
    "remote_mirror_scheme": (["remote", "mirror", "ckpt", "s4://b/p"], {}, "S3_URI"),
    "remote_mirror_missing_dir": (["remote", "mirror", "no-such-dir", "s3://b/p"], {}, "local_dir"),
    "remote_mirror_endpoint": (
        ["remote", "mirror", "ckpt", "s3://b/p", "--endpoint-url", "127.0.0.1:9000"],
        {},
        "--endpoint-url",
    ),
    "remote_mirror_no_credentials": (
        ["remote", "mirror", "ckpt", "s3://bucket/p", "--endpoint-url", "{dead_url}"],
        {},
        "AWS_ACCESS_KEY_ID",
    ),
    # flows (a copy of dvc.yaml + params.yaml as the repo: nothing could run there even if a check let it through)
    "flows_run_name": (["flows", "run", "bogus", "--repo", "repo"], {}, "NAME"),
    "flows_run_target": (["flows", "run", "rebuild", "--target", "bogus", "--repo", "repo"], {}, "--target"),
    "flows_run_params_file": (["flows", "run", "rebuild", "--repo", "repo", "--params", "nope.yaml"], {}, "--params"),
    "flows_run_no_repo": (["flows", "run", "rebuild", "--repo", "no-such-dir"], {}, "--repo"),
    "flows_run_not_a_repo": (["flows", "run", "rebuild", "--repo", "ckpt"], {}, "--repo"),
    "flows_run_params_value": (
        ["flows", "run", "retrain", "--repo", "repo", "--params", "bad-retries.yaml"],
        {},
        "orchestration.retries",
    ),
    "flows_run_api_url": (
        ["flows", "run", "rebuild", "--repo", "repo"],
        {"PREFECT_API_URL": "not-a-url"},
        "PREFECT_API_URL",
    ),
    "flows_register_no_server": (["flows", "register", "--repo", "repo"], {}, "PREFECT_API_URL"),
    "flows_register_cron": (
        ["flows", "register", "--repo", "repo", "--params", "bad-cron.yaml"],
        {"PREFECT_API_URL": "{dead_url}/api"},
        "orchestration.rebuild_cron",
    ),
    "flows_serve_timezone": (
        ["flows", "serve", "--repo", "repo", "--params", "bad-timezone.yaml"],
        {"PREFECT_API_URL": "{dead_url}/api"},
        "orchestration.timezone",
    ),
    # cloud
    "cloud_check_missing_yaml": (["cloud", "check", "nope.yaml"], {}, "yamls"),
    "cloud_check_params": (["cloud", "check", "repo/sky/pretrain.yaml", "--params", "nope.yaml"], {}, "--params"),
    "cloud_plan_profile": (
        ["cloud", "plan", "--yaml", "repo/sky/pretrain.yaml", "--profile", "bogus"],
        {},
        "pretrain.profile",
    ),
    "cloud_plan_missing_yaml": (["cloud", "plan", "--yaml", "nope.yaml"], {}, "--yaml"),
    "cloud_launch_stage": (["cloud", "launch", "--stage", "bogus", "--repo", "repo", "--dry-run"], {}, "--stage"),
    "cloud_launch_profile": (
        ["cloud", "launch", "--profile", "bogus", "--repo", "repo", "--dry-run"],
        {},
        "pretrain.profile",
    ),
    "cloud_launch_no_remote": (["cloud", "launch", "--repo", "repo"], {}, "DVC_REMOTE_URL"),
    "cloud_launch_bad_remote": (
        ["cloud", "launch", "--repo", "repo"],
        {"DVC_REMOTE_URL": "s4://b/dvc"},
        "DVC_REMOTE_URL",
    ),
    "cloud_set_profile_profile": (["cloud", "set-profile", "pretrain", "bogus"], {}, "bogus"),
    "cloud_set_profile_stage": (["cloud", "set-profile", "bogus", "cpu"], {}, "bogus"),
    "cloud_upstream_stage": (["cloud", "upstream", "bogus", "--dvc-yaml", "repo/dvc.yaml"], {}, "bogus"),
    "cloud_upstream_dvc_yaml": (["cloud", "upstream", "sft", "--dvc-yaml", "nope.yaml"], {}, "--dvc-yaml"),
    # params
    "params_check_missing": (["params", "check", "--params", "nope.yaml"], {}, "--params"),
    "params_check_value": (["params", "check", "--params", "bad-type.yaml"], {}, "sft.learning_rate"),
}

PARAMS_FILES = {
    "s4-register.yaml": "register:\n  registry: s4://y\n",
    "bad-register.yaml": "register:\n  max_concurrency: many\n",
    "bad-remote.yaml": "remote:\n  endpoint_url: nope\n",
    "bad-type.yaml": "sft:\n  learning_rate: fast\n",
    "repo/bad-retries.yaml": "orchestration:\n  retries: -1\n",
    "repo/bad-cron.yaml": "orchestration:\n  rebuild_cron: not a cron\n",
    "repo/bad-timezone.yaml": "orchestration:\n  timezone: Mars/Olympus\n",
}
CLEAN_ENV_PREFIXES = ("TUTORFORGE_", "AWS_", "PREFECT_API", "DVC_REMOTE", "LABEL_STUDIO")


def _workspace(ws: Path) -> None:
    """cwd of every command: params.yaml, a repo copy (dvc.yaml, params.yaml, sky/), a DVC dir, a checkpoint dir."""
    shutil.copy(ROOT / "params.yaml", ws / "params.yaml")
    (ws / "repo").mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, ws / "repo" / name)
    shutil.copytree(ROOT / "sky", ws / "repo" / "sky")
    (ws / "dvcrepo" / ".dvc").mkdir(parents=True)
    (ws / "ckpt").mkdir()
    (ws / "ckpt" / "model.bin").write_bytes(b"\0" * 64)
    (ws / "registry").mkdir()  # params register.registry: a local registry that exists (and is empty)
    for name, text in PARAMS_FILES.items():
        (ws / name).write_text(text)


def _env(ws: Path, over: dict[str, str], dead_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_ENV_PREFIXES)}
    env.update(
        PREFECT_HOME=str(ws / "prefect-home"),  # no profile with an API URL
        AWS_CONFIG_FILE=str(ws / "no-aws-config"),  # no credentials anywhere in the AWS chain
        AWS_SHARED_CREDENTIALS_FILE=str(ws / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        COLUMNS="60",  # a narrow terminal must not wrap the line
    )
    env.update({k: v.format(dead_url=dead_url) for k, v in over.items()})
    return env


def _run(ws: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "tutorforge"), *args], cwd=ws, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """Every case of MISTAKES run once (three at a time: each is a fresh interpreter)."""
    ws = tmp_path_factory.mktemp("cli-errors")
    _workspace(ws)
    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there; never reached before the check
    jobs = {
        name: ([a.format(dead_url=dead_url) for a in args], _env(ws, over, dead_url))
        for name, (args, over, _) in MISTAKES.items()
    }
    with ThreadPoolExecutor(3) as pool:
        futs = {name: pool.submit(_run, ws, args, env) for name, (args, env) in jobs.items()}
        return ws, {name: f.result() for name, f in futs.items()}


def _assert_one_line(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == code, (proc.args, proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in err and len(err.splitlines()) == 1, (proc.args, err[-3000:])
    assert err.startswith("error: ") and needle in err, (proc.args, err)


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_config_mistake_is_one_line_and_exit_2(results, name):
    _, procs = results
    _assert_one_line(procs[name], 2, MISTAKES[name][2])


def test_no_side_effects_and_no_secret_in_messages(results):
    ws, procs = results
    assert not (ws / "s4:").exists()  # before: `remote mirror ckpt s4://b/p` "uploaded" into ./s4:/b/p
    assert not (ws / "out").exists() and not (ws / "dvcrepo" / ".dvc" / "config.local").exists()
    assert (ws / "params.yaml").read_bytes() == (ROOT / "params.yaml").read_bytes()  # set-profile edited nothing


def test_every_command_of_the_areas_has_a_case():
    from tutorforge.cli import cloud, flows, params, registry, remote

    areas = {"registry": registry.app, "remote": remote.app, "flows": flows.app, "cloud": cloud.app}
    areas["params"] = params.app
    commands = {
        (area, c.name or (c.callback.__name__.rstrip("_").replace("_", "-") if c.callback else ""))
        for area, app in areas.items()
        for c in app.registered_commands
    }
    covered = {(args[0], args[1]) for args, _, _ in MISTAKES.values()}
    assert commands - covered == set()


def test_url_credentials_never_shown(tmp_path):
    """A bad URL is quoted without its user:password@ part."""
    env = _env(tmp_path, {"TUTORFORGE_S3_ENDPOINT_URL": "ftp://user:s3cr3t@127.0.0.1:1"}, "")
    proc = _run(tmp_path, ["registry", "list", "--registry", "s3://bucket/r"], env)
    _assert_one_line(proc, 2, "TUTORFORGE_S3_ENDPOINT_URL")
    assert "s3cr3t" not in proc.stderr and "user" not in proc.stderr


def test_runtime_failure_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "reg").mkdir()
    proc = _run(tmp_path, ["registry", "show", "v9", "--registry", "reg"], _env(tmp_path, {}, ""))
    _assert_one_line(proc, 1, "'v9'")
