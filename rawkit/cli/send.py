"""`rawkit send -i IFACE KIND DESTINATION [flags]`: craft one kind of frame from flags (no eval of
user text) and send it a bounded number of times; `--dry-run` prints it as `rawkit read` would.

    rawkit send -i vA icmp 198.18.0.2 --count 3 --interval 0.2
    rawkit send -i vA tcp 198.18.0.2 --dport 80 --flags S --mss 1460 --wscale 7 --sack-ok
    rawkit send -i vA udp fd00:18::2 --dport 53 --payload hello
    rawkit send -i vA arp 198.18.0.2

Why two paths: without `--dst-mac` (and without `--vlan`) an IP packet goes to a raw IP socket, so
the kernel routes it and resolves the neighbour; ARP, a chosen destination MAC or a VLAN tag need
the whole frame, sent at layer 2.
"""

from __future__ import annotations

import ipaddress
import os
import random
import socket
import sys
import time

import click

import rawkit
from rawkit.cli import Failure
from rawkit.wire.tcpdump import Printer

MAX_COUNT = 1_000_000
KINDS = ("icmp", "tcp", "udp", "arp")


@click.command("send", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("destination")
@click.option("-i", "interface", required=True, metavar="IFACE", help="Interface to send on.")
@click.option("--src", "source", metavar="ADDR", help="Source IP address (default: the interface's).")
@click.option("--src-mac", metavar="MAC", help="Source MAC (default: the interface's).")
@click.option("--dst-mac", metavar="MAC", help="Destination MAC: send the whole frame at layer 2.")
@click.option("--vlan", type=click.IntRange(0, 4095), help="Add an 802.1Q tag with this VLAN id (layer 2).")
@click.option("--ttl", type=click.IntRange(0, 255), default=64, show_default=True, help="TTL / hop limit.")
@click.option("--sport", type=click.IntRange(0, 65535), help="Source port (default: random).")
@click.option("--dport", type=click.IntRange(0, 65535), default=80, show_default=True,
              help="Destination port.")
@click.option("--flags", "tcp_flags", default="S", show_default=True, help="TCP flags (letters: SAFRPUEC).")
@click.option("--seq", type=click.IntRange(0, 2**32 - 1), help="TCP sequence number (default: random).")
@click.option("--ack", "ack_number", type=click.IntRange(0, 2**32 - 1), default=0, help="TCP ack number.")
@click.option("--window", type=click.IntRange(0, 65535), default=64240, show_default=True, help="TCP window.")
@click.option("--mss", type=click.IntRange(0, 65535), help="TCP MSS option.")
@click.option("--wscale", type=click.IntRange(0, 14), help="TCP window scale option.")
@click.option("--sack-ok", is_flag=True, help="TCP SACK-permitted option.")
@click.option("--timestamp", metavar="TSVAL[:TSECR]", help="TCP timestamp option.")
@click.option("--icmp-id", type=click.IntRange(0, 65535), help="ICMP echo id (default: pid).")
@click.option("--payload", default="", help="Payload text (UTF-8).")
@click.option("--payload-hex", help="Payload as hex digits (instead of --payload).")
@click.option("--arp-reply", is_flag=True, help="ARP: send a reply (is-at) rather than a request.")
@click.option("--count", type=click.IntRange(1, MAX_COUNT), default=1, show_default=True,
              help="Frames to send.")
@click.option("--interval", type=click.FloatRange(0, 3600), default=1.0, show_default=True,
              help="Seconds between frames.")
@click.option("--dry-run", is_flag=True, help="Print the frame(s) like `rawkit read`; send nothing.")
def send(kind: str, destination: str, interface: str, source: str | None, src_mac: str | None,
         dst_mac: str | None, vlan: int | None, ttl: int, sport: int | None, dport: int, tcp_flags: str,
         seq: int | None, ack_number: int, window: int, mss: int | None, wscale: int | None, sack_ok: bool,
         timestamp: str | None, icmp_id: int | None, payload: str, payload_hex: str | None, arp_reply: bool,
         count: int, interval: float, dry_run: bool) -> None:
    """Send COUNT crafted KIND frames (icmp, tcp, udp, arp) to DESTINATION through IFACE."""
    from rawkit.link import interfaces

    try:
        own_mac = interfaces.hardware_address(interface)
    except interfaces.UnknownInterface as error:
        raise Failure(str(error.args[0]), 2) from None
    family = _family(destination, kind)
    layer2 = kind == "arp" or dst_mac is not None or vlan is not None
    if source is None:
        source = _own_address(family, destination, interface)
    data = _payload(payload, payload_hex)
    options = _tcp_options(mss, wscale, sack_ok, timestamp)
    sport = sport if sport is not None else random.randrange(32768, 61000)
    seq = seq if seq is not None else random.getrandbits(32)
    icmp_id = icmp_id if icmp_id is not None else os.getpid() & 0xFFFF
    mac_text = _mac_text(own_mac) if src_mac is None else src_mac

    def craft(number: int) -> bytes:
        if kind == "arp":
            target_mac = dst_mac or ("00:00:00:00:00:00" if not arp_reply else "ff:ff:ff:ff:ff:ff")
            top = rawkit.ARP(op=2 if arp_reply else 1, hwsrc=mac_text, psrc=source, hwdst=target_mac,
                             pdst=destination)
        else:
            ip = rawkit.IPv4(src=source, dst=destination, ttl=ttl, id=random.getrandbits(16)) \
                if family == socket.AF_INET else rawkit.IPv6(src=source, dst=destination, hlim=ttl)
            if kind == "icmp":
                echo = rawkit.ICMP(id=icmp_id, seq=number) if family == socket.AF_INET \
                    else rawkit.ICMPv6(id=icmp_id, seq=number)
                top = ip / echo / data
            elif kind == "tcp":
                top = ip / rawkit.TCP(sport=sport, dport=dport, flags=tcp_flags, seq=seq, ack=ack_number,
                                      window=window, options=options) / data
            else:
                top = ip / rawkit.UDP(sport=sport, dport=dport) / data
        if not layer2:
            return bytes(top)
        link = rawkit.Ether(src=mac_text, dst=dst_mac or "ff:ff:ff:ff:ff:ff")
        if vlan is not None:
            return bytes(link / rawkit.Dot1Q(vid=vlan) / top)
        return bytes(link / top)

    try:
        first = craft(1)  # a bad value is reported before anything is opened or sent
    except (ValueError, KeyError, OSError) as error:
        raise Failure(f"send: cannot build the frame: {error}", 2) from None
    linktype = interfaces.LINKTYPE_ETHERNET if layer2 else interfaces.LINKTYPE_RAW
    if dry_run:
        _print_frames([craft(number) for number in range(1, count + 1)], linktype)
        return
    sender = _open_sender(layer2, family, interface)
    sent = 0
    try:
        for number in range(1, count + 1):
            if number > 1:
                time.sleep(interval)
            frame = first if number == 1 else craft(number)
            try:
                sender.send(frame)
            except OSError as error:
                raise Failure(f"send: {error.strerror or error}", 1) from None
            sent += 1
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
        sys.stderr.write(f"{sent} packet{'' if sent == 1 else 's'} sent\n")


def _family(destination: str, kind: str) -> int:
    try:
        address = ipaddress.ip_address(destination)
    except ValueError:
        raise Failure(f"send: {destination!r} is not an IP address", 2) from None
    if kind == "arp" and address.version != 4:
        raise Failure("send: arp needs an IPv4 destination", 2)
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


def _own_address(family: int, destination: str, interface: str) -> str:
    from rawkit.link.rawsock import source_address

    try:
        return source_address(family, destination, device=interface)
    except OSError as error:
        raise Failure(f"send: no source address towards {destination} on {interface} "
                      f"({error.strerror or error}); give --src", 2) from None


def _payload(text: str, hex_digits: str | None) -> bytes:
    if hex_digits is None:
        return text.encode()
    try:
        return bytes.fromhex(hex_digits)
    except ValueError:
        raise Failure("send: --payload-hex needs pairs of hex digits", 2) from None


def _tcp_options(mss: int | None, wscale: int | None, sack_ok: bool, timestamp: str | None) -> list:
    """Options in the order Linux puts them in a SYN."""
    options: list = []
    if mss is not None:
        options.append(("MSS", mss))
    if sack_ok:
        options.append(("SAckOK", b""))
    if timestamp is not None:
        try:
            values = [int(part) for part in timestamp.split(":", 1)]
        except ValueError:
            raise Failure("send: --timestamp takes TSVAL or TSVAL:TSECR (integers)", 2) from None
        tsval, tsecr = values[0], values[1] if len(values) > 1 else 0
        options.append(("Timestamp", (tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)))
    if wscale is not None:
        options += [("NOP", None), ("WScale", wscale)]
    return options


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in raw)


def _open_sender(layer2: bool, family: int, interface: str):  # noqa: ANN202 - FrameSender or PacketSender
    from rawkit.link.rawsock import NeedsPrivilege
    from rawkit.link.send import FrameSender, PacketSender

    try:
        return FrameSender(interface) if layer2 else PacketSender(family, interface)
    except NeedsPrivilege as error:
        raise Failure(f"send needs root or CAP_NET_RAW ({error.strerror})", 2) from None
    except OSError as error:
        raise Failure(f"send: {interface}: {error.strerror or error}", 2) from None


def _print_frames(frames: list[bytes], linktype: int) -> None:
    printer = Printer()
    now = time.time_ns()
    lines = [printer.format_frame(frame, linktype, now, len(frame)) for frame in frames]
    sys.stdout.write("\n".join(lines) + "\n")
