"""tcpdump's NTP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 123. The text replaces
"UDP, length N": "NTPv4, Client, length 48". With -v tcpdump adds tab-indented detail lines after
this first line; they are not produced here.
"""

from __future__ import annotations

_MODES = ("unspecified", "symmetric active", "symmetric passive", "Client", "Server", "Broadcast",
          "Control Message", "Reserved")


def format_ntp(payload: bytes, *, length: int | None = None) -> str:
    """The first line tcpdump prints for this NTP payload; `length` is the wire length if cut."""
    if not payload:
        return " [|ntp]"
    first = payload[0]
    return f"NTPv{(first >> 3) & 7}, {_MODES[first & 7]}, length {max(length or 0, len(payload))}"
