"""A small SemVer 2.0 comparator for npm versions (OSV ``SEMVER`` ranges).

Only what advisories and lock files contain: ``MAJOR.MINOR.PATCH[-pre][+build]`` with an
optional leading ``v``; build metadata is ignored, a pre-release sorts before its release,
numeric identifiers compare numerically and before alphanumeric ones (SemVer §11).
"""

from __future__ import annotations

import re
from functools import total_ordering

_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@total_ordering
class SemVer:
    """
    >>> SemVer("1.2.3") < SemVer("1.10.0")
    True
    >>> SemVer("1.0.0-alpha") < SemVer("1.0.0-alpha.1") < SemVer("1.0.0-beta.2") < SemVer("1.0.0-beta.11")
    True
    >>> SemVer("1.0.0-rc.1") < SemVer("1.0.0") == SemVer("v1.0.0+build.5")
    True
    >>> SemVer("0")
    SemVer('0.0.0')
    """

    __slots__ = ("core", "pre")

    def __init__(self, text: str) -> None:
        match = _SEMVER.match(text.strip())
        if not match:
            raise ValueError(f"not a semantic version: {text!r}")
        self.core = tuple(int(part or 0) for part in match.group(1, 2, 3))
        self.pre = tuple(match.group(4).split(".")) if match.group(4) else ()

    def _key(self) -> tuple[tuple[int, ...], int, tuple[tuple[int, int, str], ...]]:
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return self.core, 0 if self.pre else 1, pre

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        core = ".".join(map(str, self.core))
        return f"SemVer({core + ('-' + '.'.join(self.pre) if self.pre else '')!r})"
