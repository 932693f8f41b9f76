"""The protocol path of one frame as `tshark -z io,phs` counts it, damaged frames included.

tshark's hierarchy counts the protocols at the top of each frame's dissection tree. On a damaged
frame a dissector stops where it runs out of bytes, and tshark then adds "_ws.malformed" (the read
went past the frame's or the enclosing header's length) or "_ws.short" (past what the snap length
kept); some headers get their tree node before reading anything, others only once their first
bytes are read; some option dissectors read fixed fields past a short option. `frame_path` follows
those rules (measured against tshark 4.0 on every cut of every header shape rawkit decodes, see
tests/damaged_frames.py), so the tree and its counts come out as tshark's.
"""

from __future__ import annotations

from rawkit.wire import Packet

MALFORMED = "_ws.malformed"
SHORT = "_ws.short"
_LINK_NODES = {0: "null", 1: "eth", 101: "raw", 108: "null", 113: "sll", 228: "raw", 229: "raw", 276: "sll",
               12: "raw", 14: "raw"}
_LINK_HEADER = {0: 4, 108: 4, 113: 16, 276: 20}
_TAGS = {0x8100: "vlan", 0x9100: "vlan", 0x88A8: "ieee8021ad"}
# IPv4 options whose dissectors read fixed fields (pointer, flags...) past a short option length
_IP_OPTION_FIELDS = {7: 3, 130: 3, 131: 3, 137: 3, 68: 4, 148: 4}
# TCP options likewise: SACK reads a whole block, MPTCP its subtype
_TCP_OPTION_FIELDS = {5: 10, 30: 3}
_ND_OPTION_FIELDS = {3: 32}  # a prefix information option is read whole
_ICMP_ERRORS = frozenset((3, 4, 5, 11, 12))
_ICMP6_ND = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40}


class _Stop(Exception):
    """A dissector read past its bytes: `marker` is the node tshark adds for it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker


class _Walk:
    """The frame's bytes with the two ends tshark keeps for the current header: what was captured,
    and what the headers so far say there is (the 'reported' length)."""

    def __init__(self, pkt: Packet) -> None:
        self.data = pkt.data
        self.captured = len(pkt.data)
        self.reported = pkt.wirelen
        self.quote = False  # inside the datagram an ICMP error quotes
        self.path: list[str] = [_LINK_NODES.get(pkt.linktype, f"linktype-{pkt.linktype}")]

    def need(self, end: int) -> None:
        """Raise the stop tshark takes when a dissector reads up to `end`. In a quoted datagram tshark
        stops quietly at the end of the quote."""
        if end > self.reported:
            raise _Stop("" if self.quote else MALFORMED)
        if end > self.captured:
            raise _Stop(SHORT)

    def limit(self, end: int) -> None:
        """A header says its packet ends at `end` (when that is inside what the frame holds)."""
        if end < self.reported:
            self.reported = end
            self.captured = min(self.captured, end)


def frame_path(pkt: Packet) -> list[str] | None:
    """The protocol names tshark's tree has at its top for `pkt`, link layer first, ending in
    "_ws.malformed"/"_ws.short" where tshark's dissection ran out of bytes. An IP fragment ends the
    path at its IP header (reassembly is the caller's business). None for a frame that io,phs leaves
    out: one whose ICMP error quote ends its dissection early (cut by the snap length, or an ICMPv6
    error quoting nothing), as measured with tshark 4.0."""
    walk = _Walk(pkt)
    try:
        _link(walk, pkt.linktype)
    except _Stop as stop:
        if walk.quote and stop.marker:
            return None
        if stop.marker:
            walk.path.append(stop.marker)
    return walk.path


def _link(walk: _Walk, linktype: int) -> None:
    data = walk.data
    if linktype == 1:
        walk.path.pop()
        walk.need(14)
        walk.path.append("eth")
        _ethertype(walk, 14, data[12] << 8 | data[13])
    elif linktype in (101, 228, 229, 12, 14):
        _ip_version(walk, 0)
    elif linktype in _LINK_HEADER:
        size = _LINK_HEADER[linktype]
        walk.need(size)
        if linktype in (0, 108):
            family = int.from_bytes(data[:4], "little" if linktype == 0 and data[0] else "big")
            kind = {2: 0x0800, 10: 0x86DD, 24: 0x86DD, 28: 0x86DD, 30: 0x86DD}.get(family)
            if kind is not None:
                _ethertype(walk, 4, kind)
        else:
            protocol = data[14] << 8 | data[15] if linktype == 113 else data[0] << 8 | data[1]
            _ethertype(walk, size, protocol)


def _ethertype(walk: _Walk, off: int, ethertype: int) -> None:
    if ethertype in _TAGS:
        walk.need(off + 2)
        walk.path.append(_TAGS[ethertype])
        walk.need(off + 4)
        _ethertype(walk, off + 4, walk.data[off + 2] << 8 | walk.data[off + 3])
    elif ethertype == 0x0800:
        walk.need(off + 1)
        _ip4(walk, off)
    elif ethertype == 0x86DD:
        walk.path.append("ipv6")
        _ip6(walk, off)
    elif ethertype == 0x0806:
        walk.need(off + 2)
        walk.path.append("arp")
        walk.need(off + 8)
        data = walk.data
        walk.need(off + 8 + 2 * data[off + 4] + 2 * data[off + 5])


def _ip_version(walk: _Walk, off: int) -> None:
    walk.need(off + 1)
    version = walk.data[off] >> 4
    if version == 4:
        _ip4(walk, off)
    elif version == 6:
        walk.path.append("ipv6")
        _ip6(walk, off)


def _ip4(walk: _Walk, off: int) -> None:
    walk.path.append("ip")
    data = walk.data
    version = data[off] >> 4
    if version == 6:
        walk.path.append("ipv6")
        _ip6(walk, off)
        return
    header_len = (data[off] & 0x0F) * 4
    if version != 4 or header_len < 20:
        return
    walk.need(off + 4)
    total = data[off + 2] << 8 | data[off + 3]
    if total < header_len:
        return
    walk.limit(off + total)
    walk.need(off + header_len)
    _kind_length_options(walk, off + 20, off + header_len, _IP_OPTION_FIELDS)
    fragment = (data[off + 6] << 8 | data[off + 7]) & 0x3FFF
    if fragment:
        return
    _transport(walk, data[off + 9], off + header_len, ip4=True)


def _kind_length_options(walk: _Walk, off: int, end: int, fields: dict[int, int]) -> None:
    """IPv4 and TCP options share one layout (end 0, no-op 1, else kind and length), so one walk
    serves both: an option shorter than the fields tshark reads for its kind (`fields`) is
    malformed; a length that breaks the layout only ends the walk."""
    data = walk.data
    while off < end:
        kind = data[off]
        if kind == 0:
            return
        if kind == 1:
            off += 1
            continue
        if off + 1 >= end:
            return
        length = data[off + 1]
        if length < 2 or off + length > end:
            return
        if length < fields.get(kind, 2):
            raise _Stop(MALFORMED)
        off += length


def _ip6(walk: _Walk, off: int) -> None:
    walk.need(off + 40)
    data = walk.data
    walk.limit(off + 40 + (data[off + 4] << 8 | data[off + 5]))
    nh, off = data[off + 6], off + 40
    while nh in (0, 43, 60, 44):
        walk.need(off + 2)
        if nh == 44:
            walk.need(off + 8)
            if (data[off + 2] << 8 | data[off + 3]) & 0xFFF9:
                return  # a fragment: held for reassembly
            nh, off = data[off], off + 8
            continue
        end = off + (data[off + 1] + 1) * 8
        walk.need(end)
        if nh != 43:
            _ip6_options(walk, off + 2, end)
        nh, off = data[off], end
    _transport(walk, nh, off)


def _ip6_options(walk: _Walk, off: int, end: int) -> None:
    data = walk.data
    while off < end:
        if data[off] == 0:
            off += 1
            continue
        walk.need(off + 2)
        off += 2 + data[off + 1]
        walk.need(off)  # an option may run past its header, not past the packet


def _transport(walk: _Walk, proto: int, off: int, ip4: bool = False) -> None:
    if ip4 and walk.reported <= off:
        return  # IPv4 calls no transport dissector on nothing (IPv6 does)
    data = walk.data
    if proto == 6:
        walk.need(off + 4)
        walk.path.append("tcp")
        walk.need(off + 20)
        header_len = (data[off + 12] >> 4) * 4
        if header_len < 20:
            return
        walk.need(off + header_len)
        _kind_length_options(walk, off + 20, off + header_len, _TCP_OPTION_FIELDS)
        if walk.quote:
            _payload(walk, off + header_len, False)
    elif proto == 17:
        walk.need(off + 4)
        walk.path.append("udp")
        walk.need(off + 8)
        length = data[off + 4] << 8 | data[off + 5]
        if 8 <= length <= walk.reported - off:
            walk.limit(off + length)
        _payload(walk, off + 8, length > 8)
    elif proto == 1:
        walk.need(off + 6)
        walk.path.append("icmp")
        walk.need(off + 8)
        if data[off] in _ICMP_ERRORS and not walk.quote:
            _quoted(walk, off + 8)
    elif proto == 58:
        walk.path.append("icmpv6")
        walk.need(off + 4)
        kind = data[off]
        fixed = _ICMP6_ND.get(kind)
        if fixed is not None:
            walk.need(off + fixed)
            _nd_options(walk, off + fixed)
        elif kind < 128 and not walk.quote:
            walk.need(off + 8)
            if walk.reported == off + 8:
                walk.quote = True
                raise _Stop(MALFORMED)  # an ICMPv6 error quoting nothing
            _quoted(walk, off + 8)
        elif kind in (128, 129):
            walk.need(off + 8)


def _payload(walk: _Walk, off: int, claimed: bool) -> None:
    """A transport payload: tshark's heuristic dissectors read its first 4 bytes when some of it
    was captured and more was not; an empty UDP payload that its header says is there is an error."""
    present = walk.captured - off
    if walk.captured < walk.reported:
        if present < 4 and (present or not walk.quote):
            raise _Stop(SHORT)
    elif present == 0 and claimed and not walk.quote:
        raise _Stop(MALFORMED)


def _quoted(walk: _Walk, off: int) -> None:
    """The datagram an ICMP error quotes: its nodes sit inside the ICMP node (not counted), tshark
    stops quietly where the quote ends, but a quote cut by the snap length ends with "_ws.short"."""
    path = walk.path
    walk.path, walk.quote = [], True
    try:
        _ip_version(walk, off)
    finally:
        walk.path = path
    walk.quote = False


def _nd_options(walk: _Walk, off: int) -> None:
    data = walk.data
    end = walk.reported
    while off < end:
        walk.need(off + 2)
        length = data[off + 1] * 8
        if length == 0:
            return
        walk.need(off + max(length, _ND_OPTION_FIELDS.get(data[off], 0)))
        off += length
