"""tcpdump's BOOTP/DHCP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 67 or 68. The text replaces
"UDP, length N": "BOOTP/DHCP, Request from 02:00:00:00:00:01, length 300" or
"BOOTP/DHCP, Reply, length 300". With -v tcpdump adds tab-indented lines (fields, options) after
this first line; they are not produced here.
"""

from __future__ import annotations

_OPS = {1: "Request", 2: "Reply"}
_CHADDR = slice(28, 34)


def format_dhcp(payload: bytes, *, length: int | None = None) -> str:
    """The first line tcpdump prints for this BOOTP/DHCP payload; `length` is the wire length if cut.

    A request from Ethernet hardware (type 1, length 6) names the client's MAC address.
    Never raises.
    """
    if not payload:
        return " [|bootp]"
    op = payload[0]
    text = "BOOTP/DHCP, " + (_OPS.get(op) or f"unknown (0x{op:02x})")
    if len(payload) < 3:
        return text + " [|bootp]"
    if op == 1 and payload[1] == 1 and payload[2] == 6:
        if len(payload) < _CHADDR.stop:
            return text + " [|bootp]"
        text += " from " + payload[_CHADDR].hex(":")
    return f"{text}, length {max(length or 0, len(payload))}"
