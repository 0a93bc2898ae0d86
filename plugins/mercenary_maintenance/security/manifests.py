"""Pinned packages of a dependency manifest: Python requirement/lock files and npm's
``package-lock.json`` (lockfileVersion 1, 2 and 3).

Only exact pins can be matched against advisories; a requirement that is not pinned
(``django>=3``) is listed in ``unpinned`` so the report can say it was not checked.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#\\]+)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Package:
    ecosystem: str  # "PyPI" | "npm"
    name: str
    version: str


@dataclass
class Manifest:
    path: str
    kind: str
    packages: list[Package] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)


def parse_requirements(text: str) -> tuple[list[Package], list[str]]:
    """``name==version`` lines (pip-compile / ``pip freeze`` output); options, URLs and
    hash continuations are skipped, unpinned requirements returned apart.

    >>> pkgs, loose = parse_requirements('''# pinned by pip-compile
    ... Django==3.2.0 \\\\
    ...     --hash=sha256:abc
    ... requests[socks]==2.19.1 ; python_version >= "3"
    ... -r base.txt
    ... jinja2>=2.10
    ... ''')
    >>> [(p.name, p.version) for p in pkgs], loose
    ([('Django', '3.2.0'), ('requests', '2.19.1')], ['jinja2>=2.10'])
    """
    packages: list[Package] = []
    unpinned: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "--")) or "://" in line:
            continue
        pin = _PIN.match(line)
        if pin:
            packages.append(Package("PyPI", pin.group(1), pin.group(2)))
        elif _NAME.match(line):
            unpinned.append(line.rstrip("\\").strip())
    return packages, unpinned


def parse_toml_lock(text: str) -> list[Package]:
    """``poetry.lock`` / ``uv.lock`` / ``pdm.lock``: ``[[package]]`` tables with name and version."""
    data = tomllib.loads(text)
    return [Package("PyPI", str(p["name"]), str(p["version"])) for p in data.get("package") or []
            if "name" in p and "version" in p]


def _npm_name(key: str) -> str:
    """``node_modules/a/node_modules/@s/b`` → ``@s/b``."""
    return key.rsplit("node_modules/", 1)[-1]


def parse_package_lock(text: str) -> list[Package]:
    """npm ``package-lock.json``: v2/v3 ``packages`` (keyed by install path), v1 ``dependencies``.

    >>> lock = '{"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/lodash": {"version": "4.17.15"},'
    >>> lock += ' "node_modules/a/node_modules/@s/b": {"version": "1.0.0"}, "packages/local": {"version": "0.1.0"}}}'
    >>> [(p.name, p.version) for p in parse_package_lock(lock)]
    [('@s/b', '1.0.0'), ('lodash', '4.17.15')]
    """
    data = json.loads(text)
    found: set[Package] = set()
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, info in packages.items():
            if "node_modules/" not in key or not isinstance(info, dict) or info.get("link"):
                continue  # the root project, workspace folders, symlinks
            if "version" in info:
                found.add(Package("npm", str(info.get("name") or _npm_name(key)), str(info["version"])))
    else:
        def walk(deps: dict[str, Any]) -> None:
            for name, info in deps.items():
                if isinstance(info, dict) and "version" in info:
                    found.add(Package("npm", name, str(info["version"])))
                    walk(info.get("dependencies") or {})
        walk(data.get("dependencies") or {})
    return sorted(found, key=lambda p: (p.name, p.version))


def read_manifest(path: str, kind: str) -> Manifest:
    """Parse the file at ``path``; ``kind`` is python or node. Unreadable files raise OSError/ValueError."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    manifest = Manifest(path, kind)
    if kind == "node":
        manifest.packages = parse_package_lock(text)
    elif file.suffix == ".lock" or file.name.endswith(".toml"):
        manifest.packages = parse_toml_lock(text)
    else:
        manifest.packages, manifest.unpinned = parse_requirements(text)
    return manifest
