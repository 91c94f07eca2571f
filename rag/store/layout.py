"""Where an index keeps its files, and the atomic, synced writes everything else is built on.

    CURRENT                 the live version's name ("v000012"), replaced with os.replace
    versions/v000012.json   a version: the live segments, each with the documents deleted from it
    segments/s000031/       one immutable segment: a batch of documents with their vectors and BM25 postings
    segments/.tmp-*/        a segment being written; never read, removed by the next writer

A version is a small file, so publishing a change writes the new segment and a few hundred bytes, whatever
the size of the index. Segments are never changed once named; deletions are recorded in the version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

VERSIONS = "versions"
SEGMENTS = "segments"
CURRENT = "CURRENT"
SEGMENT_MANIFEST = "segment.json"


def read_current(index_dir: Path) -> str | None:
    """Name of the live version, or None when nothing has been written yet (or only in the old layout).

    Asked on every request: while the file's identity (inode, size, change time) stays the same, the name
    read last time is returned after one stat. A publish replaces the file (`os.replace`), which changes it.
    """
    path = index_dir / CURRENT
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    identity = (status.st_ino, status.st_dev, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    known = _current_seen.get(path)
    if known is not None and known[0] == identity:
        return known[1]
    try:
        name = path.read_text().strip()
    except FileNotFoundError:
        return None
    live = name if name and version_file(index_dir, name).exists() else None
    if live is not None:  # an unpublished name is read again next time
        _current_seen[path] = (identity, live)
    return live


_current_seen: dict[Path, tuple[tuple[int, ...], str]] = {}


def old_layout(index_dir: Path) -> bool:
    """An index written before segments (versions were whole folders): it must be ingested again."""
    return any(p.is_dir() for p in (index_dir / VERSIONS).glob("v[0-9]*"))


def version_file(index_dir: Path, name: str) -> Path:
    return index_dir / VERSIONS / f"{name}.json"


def version_names(index_dir: Path) -> list[str]:
    """Every version on disk, oldest first (by number: v1000000 comes after v999999)."""
    return sorted((p.stem for p in (index_dir / VERSIONS).glob("v[0-9]*.json")), key=number)


def number(name: str) -> int:
    """The number of a version or segment name ("v000012" → 12)."""
    return int(name[1:])


def next_name(folder: Path, prefix: str) -> str:
    numbers = [int(p.name[1:].split(".")[0]) for p in folder.glob(f"{prefix}[0-9]*") if p.name[1:7].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:06d}"


def file_sizes(folder: Path) -> dict[str, int]:
    """Size of every file of a segment, recorded so a truncated copy is caught on open."""
    return {str(f.relative_to(folder)): f.stat().st_size for f in sorted(folder.rglob("*")) if f.is_file()}


def check_sizes(folder: Path, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        found = (folder / name).stat().st_size  # a missing file raises FileNotFoundError: damaged
        if found != size:
            raise ValueError(f"{name} is {found} bytes, {size} were written")


def write_json_atomically(path: Path, content: dict) -> None:
    write_atomically(path, json.dumps(content, indent=1) + "\n")


def write_atomically(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_tree(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir():
            fsync_tree(child)
            continue
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
