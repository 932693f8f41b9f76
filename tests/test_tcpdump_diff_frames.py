"""Frames crafted with rawkit's builders to reach every branch of rawkit.wire.tcpdump, plus a
check that tcpdump reads them all (the comparisons live in test_tcpdump_diff.py)."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess

import pytest

from rawkit import (
    ARP,
    ICMP,
    RARP,
    TCP,
    UDP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    ICMPv6,
    IPv4,
    IPv6,
    IPv6DestOpts,
    IPv6Fragment,
    IPv6HopByHop,
    IPv6Routing,
    Loopback,
    Padding,
)
from rawkit.pcap import PcapWriter
from rawkit.wire.checksum import internet_checksum

A = "02:00:00:00:00:01"
B = "02:00:00:00:00:02"
PREFIX_INFO = (bytes([64, 0xC0]) + (86400).to_bytes(4, "big") + (14400).to_bytes(4, "big") + bytes(4)
               + bytes.fromhex("fd000018000000000000000000000000"))


def E() -> Ether:
    return Ether(src=A, dst=B)


def ip(**fields) -> IPv4:
    return IPv4(**{"src": "198.18.0.1", "dst": "198.18.0.2", **fields})


def ip6(**fields) -> IPv6:
    return IPv6(**{"src": "fd00:18::1", "dst": "fd00:18::2", **fields})


def _dns_name(name: str) -> bytes:
    return b"".join(bytes((len(label),)) + label.encode() for label in name.split(".")) + b"\0"


def write_pcaps(directory, frames: list[tuple[int, bytes, int | None]]) -> list:
    """One pcap per link type, 1 ms apart, in `directory`; returns the paths."""
    by_link: dict[int, list[tuple[bytes, int | None]]] = {}
    for linktype, frame, wirelen in frames:
        by_link.setdefault(linktype, []).append((frame, wirelen))
    paths = []
    for linktype, items in sorted(by_link.items()):
        path = directory / f"crafted-{linktype}.pcap"
        with PcapWriter(str(path), linktype) as writer:
            for index, (frame, wirelen) in enumerate(items):
                writer.write(frame, 1_700_000_000_000_000_000 + index * 1_001_000, wirelen)
        paths.append(path)
    return paths


def crafted_frames() -> list[tuple[int, bytes, int | None]]:
    """(link type, frame, wire length or None) for every branch of the printer."""
    out: list[tuple[int, bytes, int | None]] = []

    def add(frame, linktype: int = 1, wirelen: int | None = None) -> None:
        out.append((linktype, bytes(frame), wirelen))

    # TCP handshake + data + fin, both dirs
    c, s = 40000, 80
    add(E()/ip(flags="DF")/TCP(sport=c,dport=s,seq=1000,flags="S",window=64240,options=[("MSS",1460),("SAckOK",b""),("Timestamp",(1,0)),("NOP",None),("WScale",7)]))
    add(E()/ip(src="198.18.0.2",dst="198.18.0.1")/TCP(sport=s,dport=c,seq=5000,ack=1001,flags="SA",window=65160,options=[("MSS",1460),("SAckOK",b""),("Timestamp",(2,1)),("NOP",None),("WScale",7)]))
    add(E()/ip()/TCP(sport=c,dport=s,seq=1001,ack=5001,flags="A",window=502))
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 100
    add(E()/ip()/TCP(sport=c,dport=s,seq=1001,ack=5001,flags="PA",window=502)/request)
    add(E()/ip(src="198.18.0.2",dst="198.18.0.1")/TCP(sport=s,dport=c,seq=5001,ack=1028,flags="PA")/response)
    add(E()/ip()/TCP(sport=c,dport=s,seq=1028,ack=5120,flags="FA"))
    add(E()/ip(src="198.18.0.2",dst="198.18.0.1")/TCP(sport=s,dport=c,seq=5120,ack=1029,flags="FA"))
    add(E()/ip()/TCP(sport=c,dport=s,seq=1029,ack=5121,flags="A"))
    add(E()/ip()/TCP(sport=c,dport=s,seq=1029,ack=5121,flags="R"))
    add(E()/ip()/TCP(sport=c,dport=s,seq=1029,ack=0,flags="RA"))
    # other flags / options
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="SEC",urgptr=0))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="UA",urgptr=5)/b"abcdef")
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags=0))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",options=[("SAck",((100,200),(300,400))),("NOP",None),("NOP",None)]))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",options=[("MD5",b"0123456789abcdef"),("EOL",None)]))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",options=[(34,b"\x01\x02\x03\x04"),(30,b"\x00\x01"),(99,b"zz")]))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",options=b"\x02\x05\x00\x00\x00\x00\x00\x00"))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",checksum=0x1234)/b"data")
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",dataofs=3))
    add(E()/ip()/TCP(sport=1234,dport=5678,seq=7,ack=9,flags="A",dataofs=15))
    # UDP
    add(E()/ip()/UDP(sport=5000,dport=6000)/b"hello")
    add(E()/ip()/UDP(sport=5000,dport=6000,checksum=0x1)/b"hello")
    add(E()/ip()/UDP(sport=5000,dport=6000,checksum=0)/b"hello")
    add(E()/ip()/UDP(sport=5000,dport=6000,len=100)/b"hello")
    add(E()/ip()/UDP(sport=5000,dport=6000,len=4)/b"hello")
    # IP options, tos, ttl, frags
    add(E()/ip(tos=0x10,ttl=1,id=0x1234,options=[(7,b"\x04"+b"\x00"*8)])/UDP(sport=1,dport=2))
    add(E()/ip(options=[(148,b"\x00\x00")])/UDP(sport=1,dport=2))
    add(E()/ip(options=[(1,b""),(1,b""),(1,b""),(0,b"")])/UDP(sport=1,dport=2))
    add(E()/ip(options=b"\x44\x0c\x05\x00"+b"\x00"*8)/UDP(sport=1,dport=2))
    add(E()/ip(options=b"\x83\x07\x04\xc6\x12\x00\x09\x00")/UDP(sport=1,dport=2))
    add(E()/ip(tos=0x03)/UDP(sport=1,dport=2))
    add(E()/ip(flags="MF",id=77)/UDP(sport=1,dport=2,len=1008)/(b"z"*100))
    add(E()/ip(frag=185,id=77,proto=17)/(b"z"*100))
    add(E()/ip(flags="MF",frag=10,id=77,proto=6)/(b"z"*100))
    add(E()/ip(flags="DF+MF",frag=0,id=78)/TCP(sport=1,dport=2)/(b"z"*10))
    add(E()/ip(flags="EVIL")/UDP(sport=1,dport=2))
    add(E()/ip(proto=47)/(b"\x00"*8))
    add(E()/ip(proto=2)/(b"\x11\x64\x00\x00\xe0\x00\x00\x01"))
    add(E()/ip(proto=250)/(b"\x00"*8))
    add(E()/ip(checksum=0x1111)/UDP(sport=1,dport=2))
    add(E()/ip(len=20)/UDP(sport=1,dport=2))
    add(E()/ip(len=10)/UDP(sport=1,dport=2))
    add(E()/ip(len=2000)/UDP(sport=1,dport=2))
    add(E()/ip(ihl=4)/UDP(sport=1,dport=2))
    add(E()/ip(version=5)/UDP(sport=1,dport=2))
    add(E()/ip()/UDP(sport=1,dport=2)/Padding(load=b"\x00"*20))
    # ICMP
    add(E()/ip()/ICMP(type=8,id=1,seq=2)/b"abcdefgh")
    add(E()/ip(src="198.18.0.2",dst="198.18.0.1")/ICMP(type=0,id=1,seq=2)/b"abcdefgh")
    q_udp = bytes(ip(src="198.18.0.2",dst="198.18.0.1")/UDP(sport=33434,dport=33435)/(b"x"*8))
    q_tcp = bytes(ip(src="198.18.0.2",dst="198.18.0.1")/TCP(sport=44444,dport=22,flags="S"))
    for code in range(16):
        add(E()/ip()/ICMP(type=3,code=code,mtu=1400 if code==4 else 0)/q_udp)
    add(E()/ip()/ICMP(type=3,code=3)/q_tcp[:28])
    add(E()/ip()/ICMP(type=3,code=1)/q_tcp)
    add(E()/ip()/ICMP(type=3,code=3)/bytes(ip()/ICMP(type=8,id=5,seq=6)))
    add(E()/ip()/ICMP(type=11,code=0)/q_udp)
    add(E()/ip()/ICMP(type=11,code=1)/q_udp)
    for code in range(4):
        add(E()/ip()/ICMP(type=5,code=code,gateway="198.18.0.254")/q_udp)
    add(E()/ip()/ICMP(type=12,code=0,pointer=8)/q_udp)
    add(E()/ip()/ICMP(type=4)/q_udp)
    add(E()/ip()/ICMP(type=13,id=3,seq=4)/b"\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03")
    add(E()/ip()/ICMP(type=14,id=3,seq=4)/b"\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03")
    add(E()/ip()/ICMP(type=17,id=3,seq=4)/b"\x00\x00\x00\x00")
    add(E()/ip()/ICMP(type=18,id=3,seq=4)/b"\xff\xff\xff\x00")
    add(E()/ip()/ICMP(type=9,rest=b"\x01\x02\x07\x08")/b"\xc6\x12\x00\x01\x00\x00\x00\x05")
    add(E()/ip()/ICMP(type=10))
    add(E()/ip()/ICMP(type=15,id=1,seq=1))
    add(E()/ip()/ICMP(type=42,code=3))
    add(E()/ip()/ICMP(type=8,id=1,seq=2,checksum=0x1)/b"abcdefgh")
    # ARP
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2"))
    add(Ether(src=B,dst=A)/ARP(op=2,hwsrc=B,psrc="198.18.0.2",hwdst=A,pdst="198.18.0.1"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc=A,psrc="198.18.0.1",hwdst="ff:ff:ff:ff:ff:ff",pdst="198.18.0.1"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2")/Padding(load=b"\x00"*18))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/RARP(op=3,hwsrc=A,hwdst=A))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/RARP(op=4,hwsrc=B,psrc="198.18.0.2",hwdst=A,pdst="198.18.0.1"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=8,hwsrc=A,psrc="198.18.0.1",hwdst=B,pdst="0.0.0.0"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=9,hwsrc=A,psrc="198.18.0.1",hwdst=B,pdst="198.18.0.2"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=7,hwsrc=A,psrc="198.18.0.1",hwdst=B,pdst="198.18.0.2"))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,ptype=0x86dd,hwsrc=A,psrc=b"\x01"*16,pdst=b"\x02"*16))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwtype=6,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2"))
    add((Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2")).build()[:30])
    # VLAN
    add(E()/Dot1Q(vid=10,pcp=3)/ip()/UDP(sport=1,dport=2))
    add(E()/Dot1AD(vid=100)/Dot1Q(vid=10,pcp=5,dei=1)/ip()/TCP(sport=1,dport=2,flags="S"))
    add(E()/Dot1Q(vid=10)/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2"))
    add(E()/Dot1Q(vid=10)/ip6()/UDP(sport=1,dport=2))
    add(E()/Dot1Q(vid=10,type=0x1234)/b"abcdefgh")
    add(Ether(src=A,dst=B,type=0x9100)/Dot1Q(vid=7)/ip()/UDP(sport=1,dport=2))
    # unknown ethertypes, 802.3 length
    add(Ether(src=A,dst=B,type=0x88b5)/(b"\x00"*46))
    add(Ether(src=A,dst=B,type=0x88cc)/(b"\x00"*46))
    add(Ether(src=A,dst=B,type=0x0030)/(b"\xaa\xaa\x03\x00\x00\x00\x08\x00"+b"\x00"*40))
    add(bytes(Ether(src=A,dst=B))[:10])
    # IPv6
    add(E()/ip6()/TCP(sport=c,dport=443,seq=1,flags="S",options=[("MSS",1440)]))
    add(E()/ip6(tc=0x28,fl=0x12345,hlim=1)/UDP(sport=1,dport=2)/b"abc")
    add(E()/ip6()/IPv6HopByHop(options=[(5,b"\x00\x00")])/UDP(sport=1,dport=2))
    add(E()/ip6()/IPv6DestOpts(options=[(1,b"\x00\x00\x00\x00")])/UDP(sport=1,dport=2))
    add(E()/ip6()/IPv6Routing(type=0,addresses=["fd00:18::9"])/UDP(sport=1,dport=2))
    add(E()/ip6()/IPv6Fragment(offset=0,m=1,id=0x1234)/UDP(sport=1,dport=2,len=2000)/(b"y"*32))
    add(E()/ip6()/IPv6Fragment(offset=100,m=0,id=0x1234,nh=17)/(b"y"*32))
    add(E()/ip6()/IPv6HopByHop(options=[(5,b"\x00\x00")])/ICMPv6(type=143,body=b"\x00\x00\x00\x01\x04\x00\x00\x00\xff\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xff\x00\x00\x01"))
    add(E()/ip6(nh=59)/b"")
    add(E()/ip6(nh=250)/b"abcd")
    add(E()/ip6(plen=1000)/UDP(sport=1,dport=2))
    # ICMPv6
    add(E()/ip6()/ICMPv6(type=128,id=1,seq=2)/b"abcd")
    add(E()/ip6(src="fd00:18::2",dst="fd00:18::1")/ICMPv6(type=129,id=1,seq=2)/b"abcd")
    q6 = bytes(ip6(src="fd00:18::2",dst="fd00:18::1")/UDP(sport=33434,dport=33435)/(b"x"*8))
    for code in range(7):
        add(E()/ip6()/ICMPv6(type=1,code=code)/q6)
    add(E()/ip6()/ICMPv6(type=2,mtu=1280)/q6)
    add(E()/ip6()/ICMPv6(type=3,code=0)/q6)
    add(E()/ip6()/ICMPv6(type=3,code=1)/q6)
    add(E()/ip6()/ICMPv6(type=4,code=0,pointer=6)/q6)
    add(E()/ip6()/ICMPv6(type=4,code=1,pointer=40)/q6)
    add(E()/ip6(dst="ff02::2")/ICMPv6(type=133,options=[("src_lladdr",A)]))
    add(E()/ip6(src="fe80::1",dst="ff02::1")/ICMPv6(type=134,flags=0xc0,options=[("src_lladdr",A),("mtu",1500),(3,bytes([64,0xc0])+(86400).to_bytes(4,"big")+(14400).to_bytes(4,"big")+bytes(4)+bytes.fromhex("fd000018000000000000000000000000"))]))
    add(E()/ip6(dst="ff02::1:ff00:2")/ICMPv6(type=135,target="fd00:18::2",options=[("src_lladdr",A)]))
    add(E()/ip6(src="fd00:18::2",dst="fd00:18::1")/ICMPv6(type=136,flags=0x60,target="fd00:18::2",options=[("tgt_lladdr",B)]))
    add(E()/ip6(src="fd00:18::2",dst="fd00:18::1")/ICMPv6(type=136,flags=0xe0,target="fd00:18::2"))
    add(E()/ip6()/ICMPv6(type=137,target="fe80::9",dst="fd00:18::5"))
    add(E()/ip6(src="fe80::1",dst="ff02::1")/ICMPv6(type=130,body=b"\x00\x0a\x00\x00"+b"\x00"*16))
    add(E()/ip6(src="fe80::1",dst="ff02::1")/ICMPv6(type=131,body=b"\x00\x00\x00\x00"+b"\xff\x02"+b"\x00"*13+b"\x05"))
    add(E()/ip6(src="fe80::1",dst="ff02::1")/ICMPv6(type=132,body=b"\x00\x00\x00\x00"+b"\xff\x02"+b"\x00"*13+b"\x05"))
    add(E()/ip6()/ICMPv6(type=200,code=1))
    add(E()/ip6()/ICMPv6(type=128,id=1,seq=2,checksum=1)/b"abcd")
    # IPv4 in IPv6 / IPv6 in IPv4
    add(E()/ip6()/ip()/UDP(sport=1,dport=2))
    add(E()/ip()/ip6()/UDP(sport=1,dport=2))
    # truncated (snaplen)
    timestamps = [("NOP", None), ("NOP", None), ("Timestamp", (5, 6))]
    full = bytes(E()/ip()/TCP(sport=c,dport=s,seq=1,ack=1,flags="PA",options=timestamps)/(b"p"*200))
    for cut in (14, 20, 34, 40, 54, 60, 66, 70, 100):
        add(full[:cut], 1, len(full))
    fullu = bytes(E()/ip()/UDP(sport=1,dport=2)/(b"p"*200))
    for cut in (30, 38, 40, 42, 50):
        add(fullu[:cut], 1, len(fullu))
    fulli = bytes(E()/ip()/ICMP(type=3,code=3)/q_udp)
    for cut in (36, 40, 50, 60):
        add(fulli[:cut], 1, len(fulli))
    full6 = bytes(E()/ip6()/TCP(sport=1,dport=2,flags="S")/(b"q"*50))
    for cut in (20, 54, 60, 80):
        add(full6[:cut], 1, len(full6))
    # linktypes
    add(CookedLinux(pkttype=0,addr=A)/ip()/UDP(sport=1,dport=2), 113)
    add(CookedLinux(pkttype=4,addr=A)/ip()/TCP(sport=1,dport=2,flags="S"), 113)
    add(CookedLinux(pkttype=1,addr=A)/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2"), 113)
    add(CookedLinux(pkttype=2,addr=A)/ip6()/UDP(sport=1,dport=2), 113)
    add(CookedLinux(pkttype=3,addr=A)/ip()/UDP(sport=1,dport=2), 113)
    add(CookedLinux(pkttype=0,hatype=772,addr=b"\x00"*6)/ip()/UDP(sport=1,dport=2), 113)
    add(CookedLinuxV2(pkttype=0,ifindex=1,addr=A)/ip()/UDP(sport=1,dport=2), 276)
    add(CookedLinuxV2(pkttype=4,ifindex=2,addr=A)/ip()/TCP(sport=1,dport=2,flags="S"), 276)
    add(CookedLinuxV2(pkttype=1,ifindex=2,addr=A)/ARP(op=1,hwsrc=A,psrc="198.18.0.1",pdst="198.18.0.2"), 276)
    add(Loopback()/ip()/UDP(sport=1,dport=2), 0)
    add(Loopback()/ip6()/UDP(sport=1,dport=2), 0)
    add(Loopback(network_order=True)/ip()/UDP(sport=1,dport=2), 108)
    add(ip()/UDP(sport=1,dport=2), 101)
    add(ip6()/UDP(sport=1,dport=2), 101)
    add(ip()/UDP(sport=1,dport=2), 228)
    add(ip6()/UDP(sport=1,dport=2), 229)
    # IGMP v1/v2/v3 queries and reports, a leave, a cut message
    for kind, code, group, extra in ((0x11, 100, "0.0.0.0", b""), (0x11, 5, "224.1.2.3", b""),
                                     (0x11, 0, "0.0.0.0", b""), (0x12, 0, "224.1.2.3", b""),
                                     (0x16, 0, "224.1.2.3", b""), (0x17, 0, "224.1.2.3", b""),
                                     (0x11, 200, "224.1.2.3", bytes((2, 125, 0, 1, 10, 0, 0, 1))),
                                     (0x22, 0, "0.0.0.2", bytes((4, 0, 0, 0, 239, 1, 1, 1,
                                                                 1, 0, 0, 1, 239, 1, 1, 2, 10, 0, 0, 9)))):
        message = bytes((kind, code, 0, 0)) + bytes(map(int, group.split("."))) + extra
        message = message[:2] + internet_checksum(message).to_bytes(2, "big") + message[4:]
        add(E()/ip(dst="224.0.0.1",ttl=1,proto=2,options=[(148, b"\0\0")])/message)
    add(E()/ip(dst="224.0.0.1",proto=2)/bytes((0x16, 0, 0, 0, 224, 1)))
    # DNS over UDP, TCP and mDNS (rawkit.wire.tcpdump.dns prints these)
    query = (struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + _dns_name("example.com")
             + struct.pack("!HH", 1, 1))
    answer = (struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + _dns_name("example.com")
              + struct.pack("!HH", 1, 1) + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4)
              + bytes([93, 184, 216, 34]))
    add(E()/ip()/UDP(sport=40000,dport=53)/query)
    add(E()/ip(src="198.18.0.2",dst="198.18.0.1")/UDP(sport=53,dport=40000)/answer)
    add(E()/ip6()/UDP(sport=40000,dport=53)/query)
    add(E()/ip(dst="224.0.0.251")/UDP(sport=5353,dport=5353)/query)
    add(E()/ip()/TCP(sport=40001,dport=53,flags="PA",seq=1,ack=1)/(struct.pack("!H", len(query)) + query))
    # DHCP, NTP and syslog (their own modules print them; apps.py picks them by port)
    bootp = (bytes((1, 1, 6, 0)) + (0x1234).to_bytes(4, "big") + bytes(20) + bytes.fromhex("020000000001")
             + bytes(202) + b"\x63\x82\x53\x63" + bytes((53, 1, 1, 55, 3, 1, 3, 6, 255)) + bytes(20))
    add(Ether(src=A,dst="ff:ff:ff:ff:ff:ff")/IPv4(src="0.0.0.0",dst="255.255.255.255")/UDP(sport=68,dport=67)/bootp)
    add(E()/ip()/UDP(sport=40000,dport=123)/(bytes((0x23, 0, 6, 0xE9)) + bytes(44)))
    add(E()/ip()/UDP(sport=40000,dport=514)/b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed")
    # text protocols (FTP, SMTP, SSH, SIP) and DHCPv6, by port
    for port, text in ((21, b"USER anonymous\r\n"), (21, b"partial"), (25, b"EHLO x\r\nMAIL FROM:<a@b>\r\n"),
                       (25, b"\x00\x01bin\r\n"), (22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")):
        add(E()/ip()/TCP(sport=40002,dport=port,flags="PA",seq=1,ack=1)/text)
    add(E()/ip()/UDP(sport=5060,dport=5060)/b"INVITE sip:bob@example.com SIP/2.0\r\nVia: x\r\n\r\n")
    add(E()/ip6(src="fe80::1",dst="ff02::1:2")/UDP(sport=546,dport=547)/(bytes((1, 0x12, 0x34, 0x56))
                                                                       + bytes((0, 8, 0, 2, 0, 0))))
    # both ports have a printer: tcpdump's order decides (SMTP over HTTP, HTTP over DNS, DNS over NTP...)
    for sport, dport in ((80, 25), (53, 80), (22, 80), (21, 22)):
        add(E()/ip()/TCP(sport=sport,dport=dport,flags="PA",seq=1,ack=1)/b"GET / HTTP/1.0\r\n")
    for sport, dport in ((53, 123), (123, 67), (514, 5060), (546, 123)):
        add(E()/ip()/UDP(sport=sport,dport=dport)/(b"\x01" * 48))
    # IPv6 AH and ESP, an ICMPv6 error quoting TCP, an SLL2 interface this host does not have
    add(E()/ip6(nh=51)/(bytes((17, 4, 0, 0)) + (0x100).to_bytes(4, "big") + (7).to_bytes(4, "big") + bytes(12)
                          + bytes(UDP(sport=1, dport=2))))
    add(E()/ip6(nh=50)/((0x200).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes(16)))
    quoted_tcp6 = bytes(ip6(src="fd00:18::2",dst="fd00:18::1")/TCP(sport=8000,dport=40000,flags="S"))
    add(E()/ip6()/ICMPv6(type=1,code=4)/quoted_tcp6)
    add(CookedLinuxV2(pkttype=0,ifindex=4242,addr=A)/ip()/UDP(sport=1,dport=2), 276)
    return out


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_tcpdump_reads_every_crafted_frame(tmp_path):
    frames = crafted_frames()
    printed = 0
    for path in write_pcaps(tmp_path, frames):
        result = subprocess.run(["tcpdump", "-nn", "-tt", "-r", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        printed += sum(1 for line in result.stdout.splitlines() if line[:1].isdigit() or line.startswith("["))
    assert printed == len(frames)


def test_printer_never_raises_on_mutated_frames():
    """Damaged frames of every link type through every printing mode: text out, never an exception."""
    from rawkit.wire.tcpdump import Printer

    frames = crafted_frames()
    printers = [Printer(), Printer(verbose=2), Printer(link_headers=True, verbose=1), Printer(hex="X"),
                Printer(quiet=True), Printer(hex="A", verbose=3, absolute=True)]
    rng = random.Random(20261123)
    for index in range(4000):
        linktype, frame, wirelen = rng.choice(frames)
        mutated = bytearray(frame)
        for _ in range(rng.randint(1, 5)):
            choice = rng.random()
            if choice < 0.6 and mutated:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            elif choice < 0.8 and mutated:
                del mutated[rng.randrange(len(mutated)) :]
            else:
                mutated += rng.randbytes(rng.randint(1, 24))
        data = bytes(mutated)
        wire = max(len(data), wirelen or 0) + (rng.randint(0, 64) if rng.random() < 0.2 else 0)
        for printer in printers:
            assert isinstance(printer.format_frame(data, linktype, index * 1000, wire), str)
