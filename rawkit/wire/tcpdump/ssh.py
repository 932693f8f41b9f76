"""tcpdump's SSH banner line (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: TCP with source or destination port 22 and a non-empty payload (SMTP on
port 25 and WHOIS on 43 win over it; it wins over FTP, HTTP, RTSP and DNS, even when it prints
nothing). The text goes right after ", length N": ": SSH: SSH-2.0-OpenSSH_9.2p1 Debian-2" for a
version banner, nothing for anything else (encrypted traffic).
"""

from __future__ import annotations

import re

_PREFIX = b"SSH-"
_TEXT_RUN = re.compile(rb"[\x20-\x7e]*")


def format_ssh(payload: bytes, *, length: int | None = None) -> str:
    """": SSH: <banner>", " [|ssh]" when the capture cut it short, or "" for other data; never raises.

    The banner must start with "SSH-", hold only printable ASCII (no tabs) and end in LF or CRLF;
    `length` is the payload's length on the wire when the capture kept less.
    """
    cut = (length or 0) > len(payload)
    for index, expected in enumerate(_PREFIX):
        if index >= len(payload):
            return " [|ssh]" if cut or index else ""
        if payload[index] != expected:
            return ""
    end = _TEXT_RUN.match(payload, len(_PREFIX)).end()
    if end == len(payload):
        return " [|ssh]" if cut else ""
    if payload[end] == 0x0A or payload[end : end + 2] == b"\r\n":
        return ": SSH: " + payload[:end].decode("ascii")
    if payload[end] == 0x0D and end + 1 == len(payload) and cut:
        return " [|ssh]"
    return ""
