"""tcpdump's syslog summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 514. The text replaces
"UDP, length N": "SYSLOG auth.critical, length: 33"; with -v the facility, severity and message
follow on tab-indented lines, and -vv adds a hex dump of the payload.
"""

from __future__ import annotations

from rawkit.wire.tcpdump.app_text import escaped
from rawkit.wire.tcpdump.hexdump import hex_lines

_FACILITIES = ("kernel", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
               "authpriv", "ftp", "ntp", "security", "console", "cron", "local0", "local1", "local2",
               "local3", "local4", "local5", "local6", "local7")
_SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
_MAX_PRIORITY_DIGITS = 3


def _priority(payload: bytes) -> int | str:
    """The <PRI> value, or the text tcpdump prints instead when it cannot read one."""
    if payload[0] != ord("<"):
        return " (invalid)"
    value = 0
    for index in range(1, _MAX_PRIORITY_DIGITS + 2):
        if index >= len(payload):
            return " [|syslog]"
        byte = payload[index]
        if byte == ord(">"):
            return value
        if not (0x30 <= byte <= 0x39) or index > _MAX_PRIORITY_DIGITS:
            return " (invalid)"
        value = value * 10 + byte - 0x30
    return " (invalid)"


def format_syslog(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str:
    """What replaces "UDP, length N" for this syslog payload; `length` is the wire length if cut.

    Never raises.
    """
    if not payload:
        return " [|syslog]"
    priority = _priority(payload)
    if isinstance(priority, str):
        return priority
    facility_number, severity_number = priority >> 3, priority & 7
    facility = _FACILITIES[facility_number] if facility_number < len(_FACILITIES) else (
        f"unknown ({facility_number})")
    severity = _SEVERITIES[severity_number]
    wire_length = max(length or 0, len(payload))
    if not verbose:
        return f"SYSLOG {facility}.{severity}, length: {wire_length}"
    message = escaped(payload[payload.index(b">") + 1 :])
    if wire_length > len(payload):
        message += " [|syslog]"
    elif verbose > 1:
        message += hex_lines(payload, False)
    return (f"SYSLOG, length: {wire_length}\n\tFacility {facility} ({facility_number}), Severity {severity} "
            f"({severity_number})\n\tMsg: {message}")
