"""tcpdump's DHCPv6 summary (`tcpdump -nn`, 4.99, without -v), written from its observed output.

When tcpdump 4.99 uses it: UDP (over IPv4 or IPv6) with source or destination port 546 or 547, after
DNS, mDNS, BOOTP and NTP and before SIP and syslog. The text replaces "UDP, length N":
"dhcp6 solicit". With -v tcpdump appends the transaction ID and the options in parentheses on the
same line; that form is not produced here.
"""

from __future__ import annotations

_MESSAGE_TYPES = ("msgtype-0", "solicit", "advertise", "request", "confirm", "renew", "rebind", "reply",
                  "release", "decline", "reconfigure", "inf-req", "relay-fwd", "relay-reply", "leasequery",
                  "leasequery-reply")
_HEADER_SIZE = 4  # message type and transaction ID


def format_dhcp6(payload: bytes) -> str:
    """"dhcp6 <message type>", or "dhcp6 [|dhcp6]" when the 4-byte header was not captured; never raises."""
    if len(payload) < _HEADER_SIZE:
        return "dhcp6 [|dhcp6]"
    kind = payload[0]
    return "dhcp6 " + (_MESSAGE_TYPES[kind] if kind < len(_MESSAGE_TYPES) else f"msgtype-{kind}")
