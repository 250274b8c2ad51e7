"""The compiled-catalogue cache: the parsed and validated YAML of a catalogue, so that a start
reads one JSON file instead of composing and validating 200 KB of YAML.

* What is cached is data only (JSON: no pickle, nothing that runs when read), the output of a
  load that passed every check; the Python objects are built from it at each start.
* The key is a SHA-256 over the cache format, the package version, the source files of the
  catalogue and engine packages (size and mtime: an edited checkout is a new version), the
  packaged schemas and every catalogue file's bytes. The file also carries a checksum of its
  body. Any mismatch, a corrupt or foreign file, or an unreadable one means a rebuild.
* Writes are atomic (a temporary sibling, then ``os.replace``): two processes starting at once
  both build, and the last rename wins with a complete file. A cache directory that cannot be
  written just means no cache.
* Location: ``$GONKA_CONFORMANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/gonka-conformance``, else
  ``~/.cache/gonka-conformance``. ``GONKA_CONFORMANCE_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from .files import read_regular

FORMAT = 1
MAX_CACHE_BYTES = 64 * 2**20  # a cache file is about 0.5 MB; anything far larger is not ours
ENV_DIR = "GONKA_CONFORMANCE_CACHE_DIR"
ENV_OFF = "GONKA_CONFORMANCE_NO_CACHE"
_PACKAGE = Path(__file__).resolve().parents[1]  # the gonka_conformance package


def cache_dir() -> Path | None:
    if os.environ.get(ENV_OFF, "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # (the XDG spec: a relative value is ignored)
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gonka-conformance"


def key(version: str, files: Iterable[tuple[str, bytes]], schemas: Iterable[bytes]) -> str:
    digest = hashlib.sha256(f"format {FORMAT}\0version {version}\0".encode())
    for source in sorted((_PACKAGE / "catalogue").glob("*.py")) + sorted((_PACKAGE / "engine").glob("*.py")):
        try:
            info = source.stat()
        except OSError:
            continue
        digest.update(f"{source.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    for schema in schemas:
        digest.update(hashlib.sha256(schema).digest())
    for name, data in files:
        digest.update(name.encode("utf-8", "surrogatepass") + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _path(root: Path) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    tag = hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return directory / f"catalogue-{tag}.json"


def read(root: Path, wanted: str) -> Any | None:
    """The cached payload for ``root`` when its key is ``wanted``; ``None`` for anything else."""
    path = _path(root)
    if path is None:
        return None
    try:
        # Only a regular file of this user's: a file planted in a shared directory is not trusted.
        blob = read_regular(path, MAX_CACHE_BYTES, owner=os.getuid() if hasattr(os, "getuid") else None)
        header, _, body = blob.partition(b"\n")
        fields = header.decode("ascii").split()
        if len(blob) > MAX_CACHE_BYTES or fields != ["gonka-catalogue-cache", str(FORMAT), wanted,
                                                      hashlib.sha256(body).hexdigest()]:
            return None
        return json.loads(body)
    except Exception:  # missing, foreign or corrupt in any way: rebuild
        return None


def write(root: Path, wanted: str, payload: Any) -> None:
    """Store ``payload`` under ``root`` and ``wanted``; silently nothing when that fails."""
    import tempfile  # (only on a miss)

    path = _path(root)
    if path is None:
        return
    try:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        header = f"gonka-catalogue-cache {FORMAT} {wanted} {hashlib.sha256(body).hexdigest()}\n".encode("ascii")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except (OSError, ValueError, TypeError):
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header + body)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass

