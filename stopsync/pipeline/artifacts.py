"""Derived artifacts (parsed records, reduced feeds) cached by the fingerprints of their inputs.

An artifact is rebuilt only when one of its inputs changed: ``source:*`` inputs are SHA-256s of
source files, the others fingerprint what else it depends on (parser version, configuration).
``<root>/<name>.meta.json`` records the artifact's own SHA-256, its inputs and why it was last
built or reused. Builds write a temporary file that replaces the artifact only when complete.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .acquire import FORCED, HIT, MISSING, SOURCE_CHANGED, now_iso, sha256_file, write_json_atomic

log = logging.getLogger(__name__)

INPUTS_CHANGED = "inputs_changed"
ARTIFACT_DECISIONS = (HIT, SOURCE_CHANGED, INPUTS_CHANGED, FORCED, MISSING)
SOURCE_INPUT_PREFIX = "source:"
PICKLE_PROTOCOL = 5

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact on disk and why it was built or reused this time."""

    name: str
    path: Path
    sha256: str
    size: int
    inputs: dict[str, str]
    decision: str
    reason: str
    built_at: str
    changed_inputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "inputs": dict(self.inputs),
            "decision": self.decision,
            "reason": self.reason,
            "built_at": self.built_at,
            "changed_inputs": list(self.changed_inputs),
        }


class ArtifactCache:
    """Artifacts under ``root``, each with a ``<name>.meta.json`` beside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"artifact name {name!r} must be letters, digits, '.', '_' or '-'")
        return self.root / name

    def meta_path(self, name: str) -> Path:
        return self.root / f"{name}.meta.json"

    def stored(self, name: str) -> dict[str, Any] | None:
        """The recorded metadata of ``name``, or ``None`` when there is none (or it is unreadable)."""
        path = self.meta_path(name)
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("ignoring unreadable artifact metadata", extra={"path": str(path)})
            return None
        return meta if isinstance(meta, dict) else None

    def invalidate(self, name: str) -> None:
        """Forget ``name`` so that the next ``get_or_build`` rebuilds it."""
        for path in (self.meta_path(name), self.path_for(name)):
            path.unlink(missing_ok=True)

    def get_or_build(
        self,
        name: str,
        inputs: Mapping[str, str],
        build: Callable[[Path], None],
        *,
        force: bool = False,
    ) -> ArtifactRecord:
        """Reuse ``name`` when its inputs are unchanged, else ``build(tmp_path)`` it anew."""
        path = self.path_for(name)
        inputs = {str(key): str(value) for key, value in inputs.items()}
        decision, reason, changed = self._decide(name, path, inputs, force)
        if decision == HIT:
            meta = self.stored(name) or {}
            record = ArtifactRecord(name=name, path=path, sha256=str(meta["sha256"]), size=int(meta["size"]),
                                    inputs=inputs, decision=HIT, reason=reason, built_at=str(meta["built_at"]))
            self._write_meta(record)
            return record
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=self.root)
        os.close(fd)
        tmp_path = Path(tmp_name)
        try:
            build(tmp_path)
            if not tmp_path.is_file():
                raise FileNotFoundError(f"building artifact {name!r} left no file at {tmp_path}")
            digest, size = sha256_file(tmp_path), tmp_path.stat().st_size
            os.replace(tmp_path, path)
        finally:
            tmp_path.unlink(missing_ok=True)
        record = ArtifactRecord(name=name, path=path, sha256=digest, size=size, inputs=inputs,
                                decision=decision, reason=reason, built_at=now_iso(), changed_inputs=changed)
        self._write_meta(record)
        log.info("artifact built", extra={"artifact": name, "decision": decision, "reason": reason})
        return record

    def _decide(
        self, name: str, path: Path, inputs: Mapping[str, str], force: bool
    ) -> tuple[str, str, list[str]]:
        meta = self.stored(name)
        if meta is None or not path.is_file():
            return MISSING, "not built yet" if meta is None else "artifact file is gone", []
        if path.stat().st_size != meta.get("size") or sha256_file(path) != meta.get("sha256"):
            return MISSING, "artifact file does not match its recorded SHA-256", []
        if force:
            return FORCED, "--force: rebuilt", []
        old_inputs = meta.get("inputs") or {}
        changed = sorted(key for key in set(inputs) | set(old_inputs) if inputs.get(key) != old_inputs.get(key))
        if not changed:
            return HIT, "inputs unchanged", []
        kind = SOURCE_CHANGED if any(key.startswith(SOURCE_INPUT_PREFIX) for key in changed) else INPUTS_CHANGED
        return kind, "changed: " + ", ".join(changed), changed

    def _write_meta(self, record: ArtifactRecord) -> None:
        meta = record.to_dict()
        meta["path"] = record.path.name  # relative: the data directory may move
        write_json_atomic(self.meta_path(record.name), meta)


def dump_pickle(value: Any, path: Path) -> None:
    with path.open("wb") as out:
        pickle.dump(value, out, protocol=PICKLE_PROTOCOL)


def load_pickle(path: Path) -> Any:
    """Unpickle an artifact this application wrote itself into its own data directory."""
    with path.open("rb") as handle:
        return pickle.load(handle)  # our own cache, never user-supplied
