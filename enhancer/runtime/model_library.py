"""The user's model folder: model files copied in, one manifest describing them, an ONNX cache beside them.

The folder is platformdirs' user data dir (``~/.local/share/enhancer/models`` on Linux), or
``ENHANCER_USER_MODELS`` / ``--model-dir`` / the app's setting. Reading the manifest imports no torch, so the
method list stays quick to build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

USER_MODELS_ENV = "ENHANCER_USER_MODELS"
WEIGHT_SUFFIXES = (".pth", ".ckpt", ".pt", ".bin", ".safetensors")
MODEL_SUFFIXES = (*WEIGHT_SUFFIXES, ".onnx")
MANIFEST = "models.json"
ONNX_CACHE = "onnx"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$")


def default_model_dir() -> Path:
    if os.environ.get(USER_MODELS_ENV):
        return Path(os.environ[USER_MODELS_ENV])
    from platformdirs import user_data_dir

    return Path(user_data_dir("enhancer", appauthor=False)) / "models"


@dataclass
class ModelEntry:
    """One added model, as the manifest keeps it."""

    name: str
    file: str  # inside the folder
    architecture: str
    scale: int
    purpose: str
    input_channels: int
    output_channels: int
    sha256: str
    size_bytes: int
    source: str
    added: str
    licence: str | None = None
    parameters: int | None = None
    min_size: int = 1
    multiple_of: int = 1
    square: bool = False
    tiling: str = "supported"
    supports_half: bool = False
    onnx_note: str | None = None  # why it runs with torch, once an export was tried and failed
    tags: list[str] = field(default_factory=list)

    @property
    def method_id(self) -> str:
        return f"model:{self.name}"

    @property
    def is_onnx(self) -> bool:
        return self.file.lower().endswith(".onnx")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelLibrary:
    """Add, list, remove and describe the user's models in one folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_model_dir()

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def entries(self) -> list[ModelEntry]:
        """The models in the manifest whose files are still there (a damaged manifest reads as empty)."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            entries = [ModelEntry(**item) for item in data.get("models", [])]
        except (OSError, ValueError, TypeError):
            return []
        return [entry for entry in entries if (self.folder / entry.file).is_file()]

    def get(self, name: str) -> ModelEntry:
        for entry in self.entries():
            if entry.name == name or entry.method_id == name:
                return entry
        known = ", ".join(e.name for e in self.entries()) or "none yet: enhancer models add FILE"
        raise KeyError(f"no model named {name!r} in {self.folder} (there are: {known})")

    def _write(self, entries: list[ModelEntry]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.manifest_path.with_name(f".{MANIFEST}.tmp-{os.getpid()}")
        payload = {"format": 1, "models": [asdict(e) for e in sorted(entries, key=lambda e: e.name.lower())]}
        temporary.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        temporary.replace(self.manifest_path)

    def add(self, source: Path, name: str | None = None) -> ModelEntry:
        """Detect ``source``, copy it in and record it; ``ModelFileError``/``ValueError`` say why not."""
        from enhancer.nets.user_models import describe_model_file

        source = Path(source)
        facts = describe_model_file(source)  # refuses before anything is copied
        name = (name or self._default_name(source, facts.scale)).strip()
        if not NAME_PATTERN.match(name):
            raise ValueError(
                f"{name!r}: a model name is 1-64 letters, digits, spaces or ._+- (starting with one)"
            )
        digest = _sha256(source)
        entries = self.entries()
        for entry in entries:
            if entry.name == name:
                raise ValueError(f"a model named {name!r} exists already (remove it or choose --name)")
            if entry.sha256 == digest:
                raise ValueError(f"{source.name} is already added, as {entry.name!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        file_name = f"{digest[:12]}-{re.sub(r'[^A-Za-z0-9._-]', '_', source.name)}"
        temporary = self.folder / f".{file_name}.tmp"
        shutil.copyfile(source, temporary)
        temporary.replace(self.folder / file_name)
        entry = ModelEntry(
            name=name,
            file=file_name,
            architecture=facts.architecture,
            scale=facts.scale,
            purpose=facts.purpose,
            input_channels=facts.input_channels,
            output_channels=facts.output_channels,
            sha256=digest,
            size_bytes=source.stat().st_size,
            source=str(source.resolve()),
            added=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            licence=facts.licence,
            parameters=facts.parameters,
            min_size=facts.min_size,
            multiple_of=facts.multiple_of,
            square=facts.square,
            tiling=facts.tiling,
            supports_half=facts.supports_half,
            tags=list(facts.tags),
        )
        self._write([*entries, entry])
        return entry

    def _default_name(self, source: Path, scale: int) -> str:
        stem = re.sub(r"[^A-Za-z0-9 ._+-]", "-", source.stem).strip(" .-_") or "model"
        name, number = stem[:60], 2
        taken = {e.name for e in self.entries()}
        while name in taken:
            name, number = f"{stem[:56]}-{number}", number + 1
        return name

    def remove(self, name: str) -> ModelEntry:
        entry = self.get(name)
        self._write([e for e in self.entries() if e.name != entry.name])
        (self.folder / entry.file).unlink(missing_ok=True)
        for cached in self.onnx_cache_dir().glob(f"{entry.sha256}*"):
            cached.unlink(missing_ok=True)
        return entry

    def update(self, entry: ModelEntry) -> None:
        self._write([entry if e.name == entry.name else e for e in self.entries()])

    def model_path(self, entry: ModelEntry) -> Path:
        return self.folder / entry.file

    def onnx_cache_dir(self) -> Path:
        return self.folder / ONNX_CACHE

    def onnx_path(self, entry: ModelEntry, half: bool = False) -> Path:
        """The ONNX file a model runs from: the added file itself, or its export cached by sha256."""
        if entry.is_onnx:
            return self.model_path(entry)
        return self.onnx_cache_dir() / f"{entry.sha256}{'-fp16' if half else ''}.onnx"

    def info(self, name: str) -> dict[str, Any]:
        entry = self.get(name)
        details = asdict(entry)
        onnx = self.onnx_path(entry)
        if entry.is_onnx:
            details["runs_with"] = "onnxruntime (the file is ONNX)"
        elif entry.onnx_note:
            details["runs_with"] = f"torch ({entry.onnx_note})"
        elif onnx.is_file():
            details["runs_with"] = f"onnxruntime ({onnx})"
        else:
            details["runs_with"] = "onnxruntime, once exported on first use (torch if the export fails)"
        return details
