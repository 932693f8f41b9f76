"""ARP and RARP as tcpdump prints them: 'Request who-has A tell B', 'Reply A is-at M', ..."""

from __future__ import annotations

from socket import inet_ntoa
from typing import TYPE_CHECKING

from rawkit.wire.tcpdump.hexdump import hex_lines

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_HARDWARE = {1: "Ethernet", 6: "TokenRing", 15: "FrameRelay", 32: "Infiniband", 24: "IEEE1394",
             18: "Fibre Channel"}
_PROTOCOLS = {0x0800: "IPv4", 0x86DD: "IPv6"}


def arp(p: Printer, data: bytes, off: int, length: int) -> str:
    """'ARP, ...' (-e drops the label); a truncated message is only ' [|arp]'."""
    caplen = len(data) - off
    if caplen < 8:
        return " [|arp]"
    hwtype = data[off] << 8 | data[off + 1]
    ptype = data[off + 2] << 8 | data[off + 3]
    hwlen, plen = data[off + 4], data[off + 5]
    op = data[off + 6] << 8 | data[off + 7]
    need = 8 + 2 * (hwlen + plen)
    if caplen < need:
        return " [|arp]"
    verbose_head = ""
    if p.verbose:
        verbose_head = (f"{_HARDWARE.get(hwtype, f'Unknown Hardware ({hwtype})')} (len {hwlen}), "
                        f"{_PROTOCOLS.get(ptype, f'Unknown Protocol (0x{ptype:04x})')} (len {plen}), ")
    at = off + 8
    sha = data[at : at + hwlen]
    spa = data[at + hwlen : at + hwlen + plen]
    tha = data[at + hwlen + plen : at + 2 * hwlen + plen]
    tpa = data[at + 2 * hwlen + plen : at + need - 8]
    if ptype != 0x0800 or plen != 4:
        if not p.verbose:
            return (f"{p.arp_label}{_HARDWARE.get(hwtype, f'Unknown Hardware ({hwtype})')} (len {hwlen}), "
                    f"{_PROTOCOLS.get(ptype, f'Unknown Protocol (0x{ptype:04x})')} (len {plen}), "
                    f"length {length}")
        spa_text = tpa_text = "<wrong proto type>"
    else:
        spa_text, tpa_text = inet_ntoa(spa), inet_ntoa(tpa)
    if op == 1:
        target = f" ({tha.hex(':')})" if any(tha) else ""
        text = f"Request who-has {tpa_text}{target} tell {spa_text}"
    elif op == 2:
        text = f"Reply {spa_text} is-at {sha.hex(':')}"
    elif op == 3:
        text = f"Reverse Request who-is {tha.hex(':')} tell {sha.hex(':')}"
    elif op == 4:
        text = f"Reverse Reply {tha.hex(':')} at {tpa_text}"
    elif op == 8:
        text = f"Inverse Request who-is {tha.hex(':')} tell {sha.hex(':')}"
    elif op == 9:
        text = f"Inverse Reply {sha.hex(':')} at {spa_text}"
    else:
        return f"{p.arp_label}{verbose_head}Unknown ({op}) " + hex_lines(data[off : off + caplen], True)
    return f"{p.arp_label}{verbose_head}{text}, length {length}"
