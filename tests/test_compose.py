"""docker-compose.yml as Docker reads it, without a Docker engine: Debian's docker-compose normalises it
(`config` needs no daemon). The file must be valid, refuse to start without its secrets, run each role with
the command it should and probe it where it listens, and set only Praktikbot settings the code reads, with
values the code accepts, so a deployment fails here and not on a server."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot import cli
from bot.settings import Settings
from tests.conftest import ROOT
from tests.test_settings_documented import environment_names

SECRETS = {"POSTGRES_PASSWORD": "compose-test-password", "PRAKTIKBOT_ADMIN_TOKEN": "compose-test-token"}
ROLES = {"app": cli.cmd_serve, "worker": cli.cmd_worker, "slack": cli.cmd_slack}
REPLICAS = ("app", "slack")
PUBLISHED = re.compile(r"^(?:[\d.]+:)?(?P<first>\d+)(?:-(?P<last>\d+))?:(?P<target>\d+)(?:/\w+)?$")


def compose_config(folder: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with only `environment` (and no .env file of the developer)."""
    command = shutil.which("docker-compose")
    if command is None:
        if os.geteuid() == 0:
            pytest.fail("docker-compose mangler; `make setup-dev` installerer det (docker-compose is missing)")
        pytest.skip("docker-compose mangler, og kun root kan installere det "
                    "(docker-compose is missing and only root can install it: `make setup-dev`)")
    env_file = folder / "empty.env"
    env_file.write_text("", encoding="utf-8")
    return subprocess.run([command, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), "config"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "HOME": str(folder), **environment})


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    result = compose_config(tmp_path_factory.mktemp("compose"), SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def role_settings(service: dict, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a role's process reads from the environment the compose file gives it."""
    for name in list(os.environ):
        if name.startswith(("PRAKTIKBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        if value is not None:  # no value: passed on from the host only when set there
            monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def command_args(service: dict) -> argparse.Namespace:
    command = service["command"]
    assert command[0] == "praktikbot"
    return cli.build_parser().parse_args(command[1:])


def healthcheck(service: dict) -> list[str]:
    return service.get("healthcheck", {}).get("test", [])


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_missing_secret_stops_the_deployment_and_is_named(missing: str, tmp_path: Path):
    result = compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_every_praktikbot_variable_is_a_setting_the_code_reads(services: dict[str, dict],
                                                               monkeypatch: pytest.MonkeyPatch):
    read = set(environment_names())
    for name, service in services.items():
        ours = {v for v in service.get("environment", {}) if v.startswith(("PRAKTIKBOT_", "SLACK_"))}
        assert ours <= read, f"{name} sets variables no code reads: {sorted(ours - read)}"
        if name in ROLES:
            role_settings(service, monkeypatch)  # a value the code refuses fails here


def test_roles_run_their_commands_and_are_probed_where_they_listen(services: dict[str, dict]):
    for name, role in ROLES.items():
        args = command_args(services[name])
        assert args.func is role, name
        if role is cli.cmd_slack:  # Socket Mode has no port: the image's web probe would call it unhealthy
            assert healthcheck(services[name]) == ["NONE"]
            continue
        assert args.host == "0.0.0.0", f"{name} must listen beyond the container"
        assert f"http://127.0.0.1:{args.port}/healthz" in " ".join(healthcheck(services[name])), name
        targets = {int(PUBLISHED.match(p)["target"]) for p in services[name].get("ports", [])}
        assert targets == {args.port}, f"{name} publishes {targets}, listens on {args.port}"


def test_the_web_app_runs_two_replicas_each_with_a_host_port(services: dict[str, dict]):
    app = services["app"]
    assert app["deploy"]["replicas"] == 2
    assert "container_name" not in app
    (published,) = app["ports"]
    port = PUBLISHED.match(published)
    assert int(port["last"] or port["first"]) - int(port["first"]) + 1 >= app["deploy"]["replicas"]


def test_replicas_share_chroma_and_the_database_and_keep_no_files(services: dict[str, dict],
                                                                  monkeypatch: pytest.MonkeyPatch):
    postgres = services["postgres"]["environment"]
    chroma_urls, database_urls = set(), set()
    for name in ROLES:
        settings = role_settings(services[name], monkeypatch)
        assert settings.chroma_url and settings.database_url, f"{name} is not in server mode"
        chroma_urls.add(settings.chroma_url)
        database_urls.add(settings.database_url)
    (chroma_url,) = chroma_urls
    assert urlsplit(chroma_url).hostname == "chroma"
    (database_url,) = database_urls
    database = make_url(database_url)
    assert database.host == "postgres" and database.drivername == "postgresql+psycopg"
    assert (database.username, database.password, database.database) == (
        postgres["POSTGRES_USER"], SECRETS["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])
    for name in REPLICAS:
        assert not services[name].get("volumes"), f"{name} is a replica: no knowledge dir, no shared files"
    worker = role_settings(services["worker"], monkeypatch)
    assert any(v.split(":")[1] == str(worker.knowledge_dir) for v in services["worker"]["volumes"]), \
        "the worker's knowledge dir must be a volume, or uploads are lost with the container"


def test_only_the_slack_service_opens_socket_mode(services: dict[str, dict], monkeypatch: pytest.MonkeyPatch):
    """The web app opens Socket Mode too when it has both tokens: each replica would take Slack's events."""
    for name in ("app", "worker"):
        settings = role_settings(services[name], monkeypatch)
        assert not (settings.slack_bot_token and settings.slack_app_token), name
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} <= services["slack"]["environment"].keys()


def test_roles_wait_for_what_they_need_to_be_healthy(services: dict[str, dict]):
    assert services["worker"]["depends_on"] == {"chroma": {"condition": "service_healthy"},
                                                "postgres": {"condition": "service_healthy"}}
    for name in REPLICAS:
        assert services[name]["depends_on"] == {"worker": {"condition": "service_healthy"}}
    for name in ("chroma", "postgres", "worker", "app", "ollama"):
        assert healthcheck(services[name]) not in ([], ["NONE"]), f"{name} has no healthcheck"
    assert "curl" not in healthcheck(services["chroma"]), "the chromadb/chroma image has no curl"


def test_images_are_pinned_and_chroma_matches_the_client(services: dict[str, dict]):
    installed = version("chromadb")
    assert services["chroma"]["image"] == f"chromadb/chroma:{installed}"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG CHROMADB_VERSION={installed}\n" in dockerfile, "the image's Chroma client differs from the server"
    for name, service in services.items():
        if "image" in service and "build" not in service:
            tag = service["image"].rpartition(":")[2]
            assert re.fullmatch(r"\d+(\.\d+)+[\w.-]*", tag), f"{name}: pin a version, not {service['image']!r}"
    for name in ROLES:
        assert services[name]["build"]["context"] == str(ROOT) and services[name]["image"] == "praktikbot"


def test_the_llm_is_an_optional_ollama_profile_the_replicas_can_reach(services: dict[str, dict]):
    assert services["ollama"]["profiles"] == ["llm"]
    for name in REPLICAS:
        host = urlsplit(services[name]["environment"]["OLLAMA_HOST"])
        assert (host.hostname, host.port) == ("ollama", 11434), name
        assert "ollama" not in services[name].get("depends_on", {}), "a profile's service can't be required"
