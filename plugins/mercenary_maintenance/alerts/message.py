"""Slack text of one alert notification (pure formatting)."""

from __future__ import annotations

from mercenary_maintenance.alerts.state import Notification
from mercenary_maintenance.redact import slack_escape

_ICON = {"critical": ":red_circle:", "warning": ":large_yellow_circle:"}
_TITLE = {"firing": "FIRING", "repeat": "STILL FIRING", "escalation": "ESCALATED", "resolved": "RESOLVED"}


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _mention(handle: str) -> str:
    """``U123``/``S123`` ids become Slack mentions; other handles are shown as given."""
    handle = handle.strip()
    if handle.startswith("<"):
        return handle
    if handle[:1] in ("U", "W") and handle[1:].isalnum() and handle.isupper():
        return f"<@{handle}>"
    if handle[:1] == "S" and handle[1:].isalnum() and handle.isupper():
        return f"<!subteam^{handle}>"
    return handle if handle.startswith("@") else f"@{handle}"


def format_notification(note: Notification, run_link: str) -> str:
    """One Slack message.

    >>> from mercenary_maintenance.alerts.state import Notification
    >>> n = Notification("firing", "host.cpu", "web1", "critical", 93.5, 90, "CPU 93.5%", "P2", "1 h",
    ...                  "2026-01-01T00:00:00+00:00", "2026-01-01T00:05:00+00:00", ("U024BE7LH",))
    >>> print(format_notification(n, "http://af/run"))
    :red_circle: *FIRING* CRITICAL host.cpu on web1 — value 93.5 vs threshold 90
    incident P2 (respond within 1 h) · since 2026-01-01T00:00:00+00:00 · on-call <@U024BE7LH>
    CPU 93.5%
    <http://af/run|open the evaluation run>
    """
    if note.kind == "resolved":
        now = f"now {_num(note.value)}" + (f" (threshold {_num(note.limit)})" if note.limit is not None else "")
        head = (f":large_green_circle: *RESOLVED* {note.severity.upper()} {note.check} on {slack_escape(note.target)}"
                f" — {now}; firing since {note.since}")
        meta = f"incident {note.incident} (respond within {note.response}) is over"
        return f"{head}\n{meta}\n{slack_escape(note.message)}\n<{run_link}|open the evaluation run>"
    icon = _ICON.get(note.severity, ":white_circle:")
    value = f"value {_num(note.value)}" + (f" vs threshold {_num(note.limit)}" if note.limit is not None else "")
    head = (f"{icon} *{_TITLE[note.kind]}* {note.severity.upper()} {note.check} on {slack_escape(note.target)} — "
            f"{value}")
    meta = f"incident {note.incident} (respond within {note.response}) · since {note.since}"
    if note.mentions:
        who = " ".join(_mention(m) for m in note.mentions)
        meta += f" · {'escalated to' if note.kind == 'escalation' else 'on-call'} {who}"
    # The message quotes measured data (label values, error text): shown, never acted on.
    return f"{head}\n{meta}\n{slack_escape(note.message)}\n<{run_link}|open the evaluation run>"
