"""Versioned, reloadable files (the knowledge base and the rule file).

A file's version is ``<declared version>+<first 12 hex of the content's sha256>``: the
declared part is what the author bumps, the hash part changes with every edit, so an
alert always names the exact file content that fired it even when someone forgot to
bump the declared version.

:class:`ReloadingFile` keeps the last good parsed object.  ``maybe_reload()`` re-reads
the file when its mtime/size changed; a broken edit is logged and reported, and the
previous version keeps serving (a typo in a rule file must never stop the worker).
``current`` does no I/O, so it is safe on the event loop; call ``maybe_reload`` from a
timer in an executor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import yaml

log = logging.getLogger(__name__)

T = TypeVar("T")


class FileFormatError(ValueError):
    """A KB or rule file is malformed; the message names the file and the offending item."""


def content_version(declared: str, raw: bytes) -> str:
    return f"{declared}+{hashlib.sha256(raw).hexdigest()[:12]}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: YAML keeps the last one silently, which
    turns a misplaced line (a second ``en:``) into phrases that quietly vanish."""


def _mapping_no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def read_yaml(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = yaml.load(raw, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise FileFormatError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data, raw


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _Stamp(st.st_mtime_ns, st.st_size)


class ReloadingFile(Generic[T]):
    """Holds ``loader(path)``'s result and reloads it when the file changes."""

    def __init__(self, path: Path | str, loader: Callable[[Path], T]) -> None:
        self.path = Path(path)
        self._loader = loader
        self._lock = threading.Lock()
        self._stamp = _stamp(self.path)
        self._current: T = loader(self.path)  # the first load must succeed: fail loudly at start
        self.last_error: str = ""
        self.reloads = 0
        self.failed_reloads = 0

    @property
    def current(self) -> T:
        return self._current

    def maybe_reload(self) -> bool:
        """Reload if the file changed. Returns True when a new version was installed."""
        with self._lock:
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._stamp:
                return False
            try:
                new = self._loader(self.path)
            except FileFormatError as exc:
                self._stamp = stamp  # do not retry the same broken content every tick
                self.last_error = str(exc)
                self.failed_reloads += 1
                log.error("keeping the previous version of %s: %s", self.path, exc)
                return False
            self._stamp = stamp
            self._current = new
            self.last_error = ""
            self.reloads += 1
            log.info("reloaded %s -> version %s", self.path, getattr(new, "version", "?"))
            return True
