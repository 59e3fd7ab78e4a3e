"""Structural tests of the container files (no Docker engine is needed).

They read docker-compose.yml, docker-compose.override.yml and the workflows as YAML and the
Dockerfile as text, and run entrypoint.sh with sh, so that a change breaking how the roles
start, what production refuses, or how development builds shows up here.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ROOT / "docker-compose.yml"
OVERRIDE = ROOT / "docker-compose.override.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "entrypoint.sh"
WORKFLOWS = ROOT / ".github" / "workflows"

SERVICES = {"app", "scheduler", "migrator", "db", "redis", "test"}
BUILT_SERVICES = {"app", "scheduler", "migrator", "test"}
ROLES = {"web", "scheduler"}
OWN_REGISTRY = "ghcr.io/stopsync/"
SECRET_NAME = re.compile(r"SECRET|PASSWORD")
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<rest>[^}]*)\}")


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return load_yaml(PRODUCTION)


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    return load_yaml(OVERRIDE)


@pytest.fixture(scope="module")
def dockerfile_stages() -> dict[str, list[str]]:
    return parse_stages(DOCKERFILE.read_text(encoding="utf-8"))


def parse_stages(text: str) -> dict[str, list[str]]:
    """Instructions of each named stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)$", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(1), [])
        elif line.upper().startswith("FROM "):
            current = None
        elif current is not None:
            current.append(line)
    return stages


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in stage if line.split()[0].upper() == keyword]


def command_words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        return dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def variable_uses(value: Any) -> list[tuple[str, str]]:
    """Every ``${NAME...}`` in a value of the file, as (NAME, what follows the name)."""
    if isinstance(value, dict):
        return [use for item in value.values() for use in variable_uses(item)]
    if isinstance(value, list):
        return [use for item in value for use in variable_uses(item)]
    if isinstance(value, str):
        return [(match["name"], match["rest"]) for match in VARIABLE.finditer(value)]
    return []


def volume_source(volume: str | dict[str, Any]) -> str:
    if isinstance(volume, dict):
        return str(volume.get("source", ""))
    return volume.split(":", 1)[0] if ":" in volume else ""


def entrypoint(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The entrypoint runs `python`: the interpreter running these tests has psycopg2.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- docker-compose.yml (production) ---


def test_production_has_every_service(production: dict[str, Any]) -> None:
    assert set(production["services"]) >= SERVICES


def test_app_publishes_5001_and_checks_healthz(production: dict[str, Any]) -> None:
    app = production["services"]["app"]
    assert "5001:5001" in [str(port) for port in app["ports"]]
    assert "/healthz" in " ".join(command_words(app["healthcheck"]["test"]))
    assert app["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", ["app", "scheduler"])
def test_long_running_roles_wait_for_migration_and_healthy_stores(
    production: dict[str, Any], name: str
) -> None:
    depends_on = production["services"][name]["depends_on"]
    assert depends_on["migrator"]["condition"] == "service_completed_successfully"
    assert depends_on["db"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_migrator_upgrades_once_with_the_web_image(production: dict[str, Any]) -> None:
    services = production["services"]
    migrator = services["migrator"]
    assert command_words(migrator["command"]) == ["flask", "--app", "stopsync", "db", "upgrade"]
    assert str(migrator["restart"]) == "no"
    assert migrator["image"] == services["app"]["image"]
    assert migrator["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["db", "redis"])
def test_stores_have_healthchecks(production: dict[str, Any], name: str) -> None:
    check = " ".join(command_words(production["services"][name]["healthcheck"]["test"]))
    assert {"db": "pg_isready", "redis": "redis-cli ping"}[name] in check


def test_database_is_postgis_on_a_named_volume(production: dict[str, Any]) -> None:
    db = production["services"]["db"]
    assert db["image"].startswith("postgis/postgis:15-")
    assert any(volume_source(volume) in production["volumes"] for volume in db["volumes"])


def test_production_builds_nothing_and_mounts_only_named_volumes(
    production: dict[str, Any],
) -> None:
    named = set(production.get("volumes") or {})
    for name, service in production["services"].items():
        assert "build" not in service, f"{name} builds in production"
        for volume in service.get("volumes", []):
            source = volume_source(volume)
            assert source in named, f"{name} mounts {volume!r}, not a named volume"


def test_every_image_is_pinned(production: dict[str, Any]) -> None:
    for name, service in production["services"].items():
        image = str(service.get("image", ""))
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name} has no tagged image: {image!r}"
        if name in BUILT_SERVICES:
            assert image.startswith(OWN_REGISTRY), f"{name} pulls {image!r}"
        else:
            assert tag != "latest", f"{name} floats on {image!r}"


def test_own_images_match_the_published_targets(production: dict[str, Any]) -> None:
    services = production["services"]
    expected = {"app": "web", "scheduler": "scheduler", "migrator": "web", "test": "test"}
    for name, target in expected.items():
        assert services[name]["image"].startswith(f"{OWN_REGISTRY}stopsync-{target}:")


def test_secrets_have_no_default(production: dict[str, Any]) -> None:
    uses = variable_uses(production["services"])
    secrets = [(name, rest) for name, rest in uses if SECRET_NAME.search(name)]
    assert {name for name, _ in secrets} >= {"STOPSYNC_SECRET_KEY", "POSTGRES_PASSWORD"}
    for name, rest in secrets:
        assert rest.startswith(":?"), f"${{{name}{rest}}} must be required, without default"


def test_no_secret_is_written_literally(production: dict[str, Any]) -> None:
    for name, service in production["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert value.startswith("${") and value.endswith("}"), f"{name}.{key}={value}"


def test_roles_are_known(production: dict[str, Any]) -> None:
    services = production["services"]
    for name in ("app", "scheduler", "migrator"):
        assert environment(services[name])["ROLE"] in ROLES
    assert environment(services["app"])["ROLE"] == "web"
    assert environment(services["scheduler"])["ROLE"] == "scheduler"


def test_common_environment_is_shared(production: dict[str, Any]) -> None:
    common = production["x-stopsync-env"]
    assert common["STOPSYNC_ENVIRONMENT"] == "production"
    assert common["STOPSYNC_REDIS_URL"] == "redis://redis:6379/0"
    assert common["STOPSYNC_DATABASE_URL"].startswith("postgresql+psycopg2://stopsync:")
    assert "@db:5432/stopsync" in common["STOPSYNC_DATABASE_URL"]
    for name in ("app", "scheduler", "migrator"):
        env = environment(production["services"][name])
        assert {key: env[key] for key in common} == common, name


def test_anchors_are_really_shared() -> None:
    # The merge key must stay: a copy-pasted environment drifts.
    text = PRODUCTION.read_text(encoding="utf-8")
    assert "x-stopsync-env: &stopsync-env" in text
    assert text.count("<<: *stopsync-env") == 3


def test_scheduler_keeps_instance_data(production: dict[str, Any]) -> None:
    assert "instance-data:/app/instance" in production["services"]["scheduler"]["volumes"]
    assert "volumes" not in production["services"]["app"], "the web role is stateless"


def test_test_profile_points_at_db_and_redis(production: dict[str, Any]) -> None:
    test = production["services"]["test"]
    assert test["profiles"] == ["test"]
    env = environment(test)
    assert "@db:5432/" in env["STOPSYNC_TEST_DATABASE_URL"]
    assert not env["STOPSYNC_TEST_DATABASE_URL"].endswith("/stopsync"), "never the app database"
    assert env["STOPSYNC_TEST_REDIS_URL"].startswith("redis://redis:6379/")
    assert "pytest" in command_words(test["command"])[-1]


# --- docker-compose.override.yml (development) ---


def test_override_builds_every_own_service_from_a_dockerfile_stage(
    override: dict[str, Any], dockerfile_stages: dict[str, list[str]]
) -> None:
    expected = {"app": "web", "scheduler": "scheduler", "migrator": "web", "test": "test"}
    services = override["services"]
    assert set(services) >= BUILT_SERVICES
    for name, target in expected.items():
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["target"] == target
        assert build["target"] in dockerfile_stages
        assert ".:/app" in services[name]["volumes"]


def test_override_is_development(override: dict[str, Any]) -> None:
    for name in ("app", "scheduler", "migrator"):
        assert environment(override["services"][name])["STOPSYNC_ENVIRONMENT"] == "development"
    app_command = " ".join(command_words(override["services"]["app"]["command"]))
    assert "--reload" in app_command or "--debug" in app_command
    assert "5001" in app_command


def test_development_images_do_not_replace_published_ones(override: dict[str, Any]) -> None:
    for name, service in override["services"].items():
        assert not str(service.get("image", "")).startswith(OWN_REGISTRY), name


# --- Dockerfile ---


def test_dockerfile_has_every_stage(dockerfile_stages: dict[str, list[str]]) -> None:
    assert {"base", "web", "scheduler", "test"} <= set(dockerfile_stages)
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\S* AS base$", text, re.MULTILINE)
    for stage in ("web", "scheduler", "test"):
        assert re.search(rf"^FROM base AS {stage}$", text, re.MULTILINE), stage


def test_base_stage_installs_the_package(dockerfile_stages: dict[str, list[str]]) -> None:
    base = dockerfile_stages["base"]
    text = "\n".join(base)
    assert "requirements/base.txt" in text
    assert "pip install --no-deps ." in text
    assert re.search(r"useradd .*--uid 10001 .*stopsync", text)
    assert instructions(base, "WORKDIR") == ["/app"]
    assert instructions(base, "ENTRYPOINT") == ['["/app/entrypoint.sh"]']
    assert "STOPSYNC_INSTANCE_PATH=/app/instance" in instructions(base, "ENV")
    assert re.search(r"chown stopsync:stopsync /app/instance", text), "the volume seed must be writable"


@pytest.mark.parametrize(
    ("stage", "requirements", "role"),
    [("web", "web.txt", "web"), ("scheduler", "scheduler.txt", "scheduler"), ("test", "test.txt", None)],
)
def test_final_stages_run_as_stopsync(
    dockerfile_stages: dict[str, list[str]], stage: str, requirements: str, role: str | None
) -> None:
    lines = dockerfile_stages[stage]
    users = instructions(lines, "USER")
    assert users and users[-1] == "stopsync", f"{stage} runs as {users[-1] if users else 'root'}"
    assert any(f"requirements/{requirements}" in line for line in instructions(lines, "RUN"))
    roles = [value.split("=", 1)[1] for value in instructions(lines, "ENV") if value.startswith("ROLE=")]
    assert roles == ([role] if role else [])
    assert set(roles) <= ROLES


def test_web_stage_serves_5001_with_gunicorn(dockerfile_stages: dict[str, list[str]]) -> None:
    web = dockerfile_stages["web"]
    assert instructions(web, "EXPOSE") == ["5001"]
    assert command_words(_json_list(instructions(web, "CMD")[-1])) == [
        "gunicorn",
        "--config",
        "python:stopsync.gunicorn_conf",
        "stopsync.wsgi:app",
    ]
    healthcheck = instructions(web, "HEALTHCHECK")[-1]
    assert "urllib" in healthcheck and "/healthz" in healthcheck and ":5001" in healthcheck


def test_scheduler_and_test_commands(dockerfile_stages: dict[str, list[str]]) -> None:
    scheduler_cmd = _json_list(instructions(dockerfile_stages["scheduler"], "CMD")[-1])
    assert scheduler_cmd == ["python", "-m", "stopsync.scheduler"]
    assert _json_list(instructions(dockerfile_stages["test"], "CMD")[-1])[0] == "pytest"


def _json_list(value: str) -> list[str]:
    parsed = yaml.safe_load(value)  # a JSON array is valid YAML
    assert isinstance(parsed, list), f"use the exec form: {value}"
    return [str(word) for word in parsed]


def test_parse_stages_handles_continuations_and_comments() -> None:
    text = "FROM x AS one\n# USER root\nRUN a \\\n    b\nFROM y AS two\nUSER me\n"
    assert parse_stages(text) == {"one": ["RUN a b"], "two": ["USER me"]}


# --- .dockerignore ---


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "node_modules", "instance", ".env"} <= entries
    assert {"**/__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= entries
    for needed in ("stopsync", "requirements", "entrypoint.sh", "tests", "pyproject.toml"):
        assert needed not in entries


# --- entrypoint.sh ---


def test_entrypoint_is_an_executable_sh_script() -> None:
    text = ENTRYPOINT.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert text.rstrip().splitlines()[-1] == 'exec "$@"'


def test_entrypoint_runs_the_command_without_waiting_for_sqlite() -> None:
    result = entrypoint("echo", "ok", env={"STOPSYNC_DATABASE_URL": "sqlite:////tmp/none.db"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert "waiting" not in result.stderr


def test_entrypoint_passes_the_exit_status_through() -> None:
    result = entrypoint("sh", "-c", "exit 7", env={})
    assert result.returncode == 7


def test_entrypoint_gives_up_on_an_unreachable_database() -> None:
    url = f"postgresql+psycopg2://stopsync:hunter2secret@127.0.0.1:{unused_port()}/stopsync"
    result = entrypoint("echo", "ok", env={"STOPSYNC_DATABASE_URL": url, "STOPSYNC_DB_WAIT_SECONDS": "2"})
    assert result.returncode != 0
    assert result.stdout == "", "the command must not run"
    assert "did not accept connections within 2s" in result.stderr
    assert "hunter2secret" not in result.stderr, "the password leaked into the log"


def test_entrypoint_rejects_a_bad_wait_value() -> None:
    url = f"postgresql://stopsync@127.0.0.1:{unused_port()}/stopsync"
    result = entrypoint("echo", "ok", env={"STOPSYNC_DATABASE_URL": url, "STOPSYNC_DB_WAIT_SECONDS": "soon"})
    assert result.returncode != 0
    assert "STOPSYNC_DB_WAIT_SECONDS must be a whole number" in result.stderr


def test_entrypoint_without_a_command_fails() -> None:
    result = entrypoint(env={})
    assert result.returncode != 0
    assert "no command given" in result.stderr


@pytest.mark.postgis
@pytest.mark.skipif(
    not os.environ.get("STOPSYNC_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="STOPSYNC_TEST_DATABASE_URL names no PostgreSQL database",
)
def test_entrypoint_passes_a_reachable_database() -> None:
    url = os.environ["STOPSYNC_TEST_DATABASE_URL"]
    result = entrypoint("echo", "ok", env={"STOPSYNC_DATABASE_URL": url, "STOPSYNC_DB_WAIT_SECONDS": "10"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


# --- workflows ---


def workflow(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = load_yaml(WORKFLOWS / name)
    # YAML 1.1 reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_ci_runs_lint_and_make_test_against_services() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    lint_runs = " ".join(step.get("run", "") for step in ci["jobs"]["lint"]["steps"])
    assert "ruff check" in lint_runs and "mypy" in lint_runs
    test = ci["jobs"]["test"]
    images = {service["image"] for service in test["services"].values()}
    assert images == {"postgis/postgis:15-3.4", "redis:7"}
    for service in test["services"].values():
        assert "--health-cmd" in service["options"]
    env = test["env"]
    assert env["STOPSYNC_TEST_DATABASE_URL"] == (
        "postgresql+psycopg2://postgres:postgres@localhost:5432/stopsync_test"
    )
    assert env["STOPSYNC_TEST_REDIS_URL"] == "redis://localhost:6379/15"
    runs = [step.get("run", "") for step in test["steps"]]
    assert any(run.strip() == "make test" for run in runs)
    assert any("apt-get install" in run and "chromium" in run for run in runs)


def test_publish_pushes_role_images_from_main() -> None:
    publish = workflow("publish.yml")
    assert publish["on"]["push"]["branches"] == ["main"]
    assert publish["permissions"]["packages"] == "write"
    job = publish["jobs"]["publish"]
    targets = set(job["strategy"]["matrix"]["target"])
    assert {"web", "scheduler"} <= targets
    assert targets <= set(parse_stages(DOCKERFILE.read_text(encoding="utf-8")))
    build = next(step for step in job["steps"] if "docker/build-push-action" in step.get("uses", ""))
    tags = build["with"]["tags"]
    assert "${{ github.sha }}" in tags and ":latest" in tags
    assert build["with"]["push"] is True


# --- docs/operations.md stays true to the files ---


def test_runbook_names_what_the_files_do(production: dict[str, Any]) -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for variable in [*production["x-stopsync-env"], "ROLE", "POSTGRES_PASSWORD", "STOPSYNC_DB_WAIT_SECONDS"]:
        assert f"`{variable}`" in runbook, variable
    assert " ".join(command_words(production["services"]["migrator"]["command"])) in runbook
    stages = parse_stages(DOCKERFILE.read_text(encoding="utf-8"))
    for stage in ("web", "scheduler"):
        command = " ".join(_json_list(instructions(stages[stage], "CMD")[-1]))
        assert command in runbook, command
    for endpoint in ("/healthz", "/readyz"):
        assert endpoint in runbook
    assert "--table='review_*'" in runbook
