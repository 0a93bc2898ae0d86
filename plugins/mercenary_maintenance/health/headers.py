"""``http.security_headers``: the plan's seven headers, scored like Mozilla HTTP Observatory.

The score starts at 100 and each missing or unacceptable header subtracts its penalty
(weights after the Observatory's: CSP and HSTS and framing weigh most). The score is
compared with ``thresholds.security_headers_score`` (below 100 warning, below 50
critical) by the one evaluator; the missing and wrong headers are listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mercenary_maintenance.config import HttpTarget, TimeoutsConfig
from mercenary_maintenance.findings import Finding, Threshold, measured

CHECK = "http.security_headers"
HSTS_MIN_AGE = 31536000
GOOD_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


@dataclass
class HeaderAssessment:
    score: int = 100
    missing: list[str] = field(default_factory=list)
    wrong: dict[str, str] = field(default_factory=dict)

    @property
    def grade(self) -> str:
        for limit, grade in ((100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"), (60, "C+"),
                             (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-")):
            if self.score >= limit:
                return grade
        return "F"


def _directives(csp: str) -> dict[str, str]:
    out = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name.lower()] = value.strip()
    return out


def _hsts(value: str) -> str | None:
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.I)
    if not match or int(match[1]) < HSTS_MIN_AGE:
        return f"max-age must be at least {HSTS_MIN_AGE}"
    if "includesubdomains" not in value.lower():
        return "includeSubDomains missing"
    return None


def _csp(value: str) -> str | None:
    d = _directives(value)
    policy = d.get("script-src", d.get("default-src"))
    if policy is None:
        return "no default-src or script-src"
    if "'unsafe-inline'" in policy or "'unsafe-eval'" in policy:
        return "scripts allow 'unsafe-inline' or 'unsafe-eval'"
    return None


def _xfo(value: str) -> str | None:
    return None if value.strip().upper() == "DENY" else "must be DENY (or use CSP frame-ancestors)"


def _exact(expected: str) -> Callable[[str], str | None]:
    return lambda value: None if value.strip().lower() == expected else f"must be {expected}"


def _xss(value: str) -> str | None:
    normal = re.sub(r"\s+", "", value.lower())
    return None if normal in ("1;mode=block", "0") else "must be '1; mode=block' (or '0')"


def _referrer(value: str) -> str | None:
    last = value.split(",")[-1].strip().lower()  # browsers use the last policy they understand
    return None if last in GOOD_REFERRER else f"{last!r} leaks the URL; use one of {sorted(GOOD_REFERRER)}"


def _present(value: str) -> str | None:
    return None if value.strip() else "empty"


# header -> (penalty if missing, penalty if wrong, validator)
RULES: dict[str, tuple[int, int, Callable[[str], str | None]]] = {
    "content-security-policy": (25, 20, _csp),
    "strict-transport-security": (20, 10, _hsts),
    "x-frame-options": (20, 20, _xfo),
    "x-content-type-options": (5, 5, _exact("nosniff")),
    "x-xss-protection": (10, 10, _xss),
    "referrer-policy": (5, 5, _referrer),
    "permissions-policy": (5, 5, _present),
}


def assess(headers: Mapping[str, str]) -> HeaderAssessment:
    """Score response headers (names case-insensitive).

    >>> assess({}).score, assess({}).grade
    (10, 'F')
    """
    lower = {k.lower(): v for k, v in headers.items()}
    result = HeaderAssessment()
    frame_ancestors = "frame-ancestors" in _directives(lower.get("content-security-policy", ""))
    for name, (missing_penalty, wrong_penalty, validate) in RULES.items():
        if name == "x-frame-options" and frame_ancestors:
            continue  # CSP frame-ancestors supersedes X-Frame-Options
        if name not in lower:
            result.missing.append(name)
            result.score -= missing_penalty
            continue
        problem = validate(lower[name])
        if problem:
            result.wrong[name] = problem
            result.score -= wrong_penalty
    result.score = max(result.score, 0)
    return result


def headers_finding(name: str, url: str, headers: Mapping[str, str], threshold: Threshold) -> Finding:
    a = assess(headers)
    problems = [f"missing {h}" for h in a.missing] + [f"{h}: {why}" for h, why in a.wrong.items()]
    text = f"{url}: score {a.score} ({a.grade})" + (f"; {'; '.join(problems)}" if problems else "; all present")
    return measured(CHECK, name, a.score, threshold, text,
                    {"url": url, "grade": a.grade, "missing": a.missing, "wrong": a.wrong})


def check_target(target: HttpTarget, threshold: Threshold, timeouts: TimeoutsConfig) -> Finding:
    from mercenary_maintenance.health.http import fetch

    return headers_finding(target.name, target.url, fetch(target, timeouts).headers, threshold)
