"""Syntax tree -> intermediate form, for one link type, with tcpdump's meaning for every primitive.

Primitives are generated left to right because `vlan` changes the offsets of everything generated
after it (tcpdump's rule, also across `or`).
"""

from __future__ import annotations

from rawkit.filter import names
from rawkit.filter.errors import FilterError
from rawkit.filter.ir import (
    MASK32,
    TRUE,
    Arith,
    Const,
    HeaderLength,
    Load,
    Pred,
    Value,
    WireLength,
    all_of,
    any_of,
    arith,
    cmp,
    conj,
    disj,
    inv,
    negate,
)
from rawkit.filter.linktypes import ETHERTYPE_IP, ETHERTYPE_IPV6, LinkLayer, ethertype_test
from rawkit.filter.syntax import (
    Access,
    Binary,
    BoolOp,
    Ident,
    Keyword,
    Negation,
    Negative,
    Node,
    Number,
    PacketLength,
    Primitive,
    Qualifiers,
    Relation,
)

ETHERTYPE_ARP = 0x0806
ETHERTYPE_RARP = 0x8035
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
IPPROTO = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "igmp": 2, "icmp6": 58}
PORT_PROTOS = (132, 6, 17)  # sctp, tcp, udp: what a bare `port` matches
FRAGMENT_HEADER = 44
NOT_ETHERNET = "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel"
NOT_MULTICAST = ("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/"
                 "ATM LANE/Fibre Channel")


class Generator:
    def __init__(self, link: LinkLayer) -> None:
        self.link = link
        self.shift = 0  # bytes of VLAN tags announced so far

    # --- offsets and protocol tests
    def net(self, offset: int) -> int:
        return self.link.payload_offset + self.shift + offset

    def ethertype(self, value: int) -> Pred:
        return ethertype_test(self.link, self.shift, value)

    def byte(self, offset: int) -> Value:
        return Load(1, Const(self.net(offset)))

    def ip_proto(self, number: int) -> Pred:
        return conj(self.ethertype(ETHERTYPE_IP), cmp("eq", self.byte(9), Const(number)))

    def ip6_proto(self, number: int) -> Pred:
        direct = cmp("eq", self.byte(6), Const(number))
        after_fragment = conj(cmp("eq", self.byte(6), Const(FRAGMENT_HEADER)),
                              cmp("eq", self.byte(40), Const(number)))
        return conj(self.ethertype(ETHERTYPE_IPV6), disj(direct, after_fragment))

    def not_fragment(self) -> Pred:
        return inv(cmp("set", Load(2, Const(self.net(6))), Const(0x1FFF)))

    def transport(self, offset: int) -> Value:
        return Arith("+", HeaderLength(self.net(0)), Const(self.net(offset)))

    def proto_test(self, name: str) -> Pred:
        if name == "ip":
            return self.ethertype(ETHERTYPE_IP)
        if name == "ip6":
            return self.ethertype(ETHERTYPE_IPV6)
        if name == "arp":
            return self.ethertype(ETHERTYPE_ARP)
        if name == "rarp":
            return self.ethertype(ETHERTYPE_RARP)
        if name in ("tcp", "udp", "sctp"):
            return disj(self.ip_proto(IPPROTO[name]), self.ip6_proto(IPPROTO[name]))
        if name in ("icmp", "igmp"):
            return self.ip_proto(IPPROTO[name])
        if name == "icmp6":
            return self.ip6_proto(58)
        raise FilterError("syntax error in filter expression")

    # --- tree walk
    def generate(self, node: Node) -> Pred:
        if isinstance(node, BoolOp):
            left = self.generate(node.left)
            right = self.generate(node.right)
            return conj(left, right) if node.op == "and" else disj(left, right)
        if isinstance(node, Negation):
            return inv(self.generate(node.operand))
        if isinstance(node, Relation):
            return self.relation(node)
        if isinstance(node, Keyword):
            return self.keyword(node)
        return self.primitive(node)

    def keyword(self, node: Keyword) -> Pred:
        if node.name == "pname":
            return self.proto_test(node.proto)
        if node.name == "less":
            return inv(cmp("gt", WireLength(), Const(node.number)))
        if node.name == "greater":
            return cmp("ge", WireLength(), Const(node.number))
        if node.name == "vlan":
            return self.vlan(node.number)
        if node.name == "broadcast":
            return self.broadcast(node.proto)
        return self.multicast(node.proto)

    def vlan(self, vid: int | None) -> Pred:
        if not self.link.ethernet:
            raise FilterError(f"no VLAN support for {self.link.name}")
        if vid is not None and vid > 0x0FFF:
            raise FilterError(f"VLAN tag {vid} greater than maximum 4095")
        type_field = Load(2, Const(self.link.type_offset + self.shift))
        test = any_of(*(cmp("eq", type_field, Const(tpid)) for tpid in VLAN_TPIDS))
        if vid is not None:
            tci = Load(2, Const(self.net(0)))
            test = conj(test, cmp("eq", arith("&", tci, Const(0x0FFF)), Const(vid)))
        self.shift += 4
        return test

    def broadcast(self, proto: str | None) -> Pred:
        if proto in (None, "ether", "link"):
            if not self.link.ethernet:
                raise FilterError("not a broadcast link")
            return conj(cmp("eq", Load(4, Const(2)), Const(MASK32)),
                        cmp("eq", Load(2, Const(0)), Const(0xFFFF)))
        if proto == "ip":
            destination = Load(4, Const(self.net(16)))
            return conj(self.ethertype(ETHERTYPE_IP), disj(cmp("eq", destination, Const(0)),
                                                           cmp("eq", destination, Const(MASK32))))
        raise FilterError("only link-layer/IP broadcast filters supported")

    def multicast(self, proto: str | None) -> Pred:
        if proto in (None, "ether", "link"):
            if not self.link.ethernet:
                raise FilterError(NOT_MULTICAST)
            return cmp("set", Load(1, Const(0)), Const(1))
        if proto == "ip":
            return conj(self.ethertype(ETHERTYPE_IP), cmp("ge", self.byte(16), Const(224)))
        if proto == "ip6":
            return conj(self.ethertype(ETHERTYPE_IPV6), cmp("eq", self.byte(24), Const(255)))
        raise FilterError("only IP multicast filters supported on ethernet/FDDI/token ring/ARCNET/802.11/"
                          "ATM LANE/Fibre Channel")

    # --- qualifiers + id
    def primitive(self, node: Primitive) -> Pred:
        q, ident = node.qualifiers, node.ident
        kind = q.kind
        if kind == "gateway":
            raise FilterError("'gateway' not supported in this configuration")
        if kind == "proto":
            return self.protocol(q, ident)
        if kind in ("port", "portrange"):
            return self.port(q, ident)
        if ident.kind == "eid":
            if q.proto not in ("ether", "link") or kind not in (None, "host"):
                raise FilterError("ethernet address used in non-ether expression")
            return self.ether_host(ident.text, q.dir)
        if q.proto in ("ether", "link"):
            if ident.kind == "id" and kind in (None, "host"):
                raise FilterError(f"unknown ether host '{ident.text}'")
            raise FilterError(f"illegal qualifier of '{kind or 'host'}'" if kind else NOT_ETHERNET)
        if ident.kind == "id":
            if kind == "net":
                raise FilterError(f"unknown network '{ident.text}'")
            return self.host_name(q, ident.text)
        if ident.kind == "hid6":
            return self.host6(q, ident)
        return self.host4(q, ident)

    def _directions(self, direction: str | None, source: Pred, destination: Pred) -> Pred:
        if direction == "src":
            return source
        if direction == "dst":
            return destination
        if direction == "and":
            return conj(source, destination)
        return disj(source, destination)

    def _guarded_directions(self, direction: str | None, guard: Pred, source: Pred,
                            destination: Pred) -> Pred:
        """Each direction under its own copy of `guard`, the way tcpdump lays hosts out."""
        return self._directions(direction, conj(guard, source), conj(guard, destination))

    def host4(self, q: Qualifiers, ident: Ident) -> Pred:
        address, mask = ipv4_network(ident, q.kind)
        if q.proto not in (None, "ip", "arp", "rarp"):
            raise FilterError(f"'{q.proto}' modifier applied to {'ip ' if q.proto == 'ip6' else ''}host")
        return self._host4(q.proto, q.dir, address, mask)

    def _host4(self, proto: str | None, direction: str | None, address: int, mask: int) -> Pred:
        def match(offset: int) -> Pred:
            if not mask:  # tcpdump's optimiser drops the load too, so short frames still pass
                return TRUE
            field: Value = Load(4, Const(self.net(offset)))
            if mask != MASK32:
                field = arith("&", field, Const(mask))
            return cmp("eq", field, Const(address))

        tests = []
        if proto in (None, "ip"):
            ip = self.ethertype(ETHERTYPE_IP)
            tests.append(self._guarded_directions(direction, ip, match(12), match(16)))
        for name, ethertype in (("arp", ETHERTYPE_ARP), ("rarp", ETHERTYPE_RARP)):
            if proto in (None, name):
                guard = self.ethertype(ethertype)
                tests.append(self._guarded_directions(direction, guard, match(14), match(24)))
        return any_of(*tests)

    def host6(self, q: Qualifiers, ident: Ident) -> Pred:
        if q.proto not in (None, "ip6"):
            raise FilterError(f"'{q.proto}' modifier applied to {'ip6 ' if q.proto == 'ip' else ''}host")
        prefix = 128 if ident.prefix is None else ident.prefix
        if q.kind not in (None, "host", "net") or prefix > 128:
            raise FilterError(f"illegal qualifier of '{q.kind}'" if prefix <= 128 else
                              "mask length must be <= 128")
        import ipaddress  # only IPv6 hosts need it: kept off the start-up of other filters

        address = int(ipaddress.IPv6Address(ident.text))
        mask = (1 << 128) - (1 << (128 - prefix))
        if address & ~mask:
            raise FilterError(f'non-network bits set in "{ident.text}/{prefix}"')
        return self._host6(q.dir, address, mask)

    def _host6(self, direction: str | None, address: int, mask: int) -> Pred:
        def match(offset: int) -> Pred:
            words = []
            for index in range(4):
                shift = 96 - 32 * index
                word_mask = mask >> shift & MASK32
                if not word_mask:
                    continue
                field: Value = Load(4, Const(self.net(offset + 4 * index)))
                if word_mask != MASK32:
                    field = arith("&", field, Const(word_mask))
                words.append(cmp("eq", field, Const(address >> shift & MASK32)))
            return all_of(*words)

        return self._guarded_directions(direction, self.ethertype(ETHERTYPE_IPV6), match(8), match(24))

    def host_name(self, q: Qualifiers, name: str) -> Pred:
        if q.kind not in (None, "host"):
            raise FilterError(f"unknown host '{name}'")
        if q.proto not in (None, "ip", "ip6", "arp", "rarp"):
            raise FilterError(f"'{q.proto}' modifier applied to host")
        tests = []
        for address in names.host_addresses(name):
            if address.version == 4 and q.proto != "ip6":
                tests.append(self._host4(q.proto, q.dir, int(address), MASK32))
            elif address.version == 6 and q.proto in (None, "ip6"):
                tests.append(self._host6(q.dir, int(address), (1 << 128) - 1))
        if not tests:
            raise FilterError(f"unknown host '{name}'")
        return any_of(*tests)

    def ether_host(self, text: str, direction: str | None) -> Pred:
        if not self.link.ethernet:
            raise FilterError(NOT_ETHERNET)
        mac = int(text.replace(":", "").replace("-", "").replace(".", ""), 16) if len(text) in (12, 14) \
            else int("".join(part.zfill(2) for part in _mac_parts(text)), 16)

        def match(offset: int) -> Pred:
            return conj(cmp("eq", Load(4, Const(offset + 2)), Const(mac & MASK32)),
                        cmp("eq", Load(2, Const(offset)), Const(mac >> 32)))

        source, destination = match(6), match(0)
        if direction in (None, "or"):  # tcpdump tests the source first
            return disj(source, destination)
        return self._directions(direction, source, destination)

    def protocol(self, q: Qualifiers, ident: Ident) -> Pred:
        if q.proto in ("ether", "link"):
            if ident.kind == "num":
                return self.ethertype(ident.value)
            if ident.kind == "id" and ident.text in names.ETHER_PROTOCOLS:
                return self.ethertype(names.ETHER_PROTOCOLS[ident.text])
            raise FilterError(f"unknown ether proto '{ident.text}'")
        if ident.kind == "num":
            number = ident.value
        elif ident.kind == "id":
            number = names.ip_protocol(ident.text)
        else:
            raise FilterError("syntax error in filter expression")
        if q.proto == "ip":
            return self.ip_proto(number)
        if q.proto == "ip6":
            return self.ip6_proto(number)
        if q.proto is None:
            return disj(self.ip_proto(number), self.ip6_proto(number))
        raise FilterError("illegal qualifier of 'proto'")

    def port(self, q: Qualifiers, ident: Ident) -> Pred:
        if q.proto not in (None, "tcp", "udp", "sctp"):
            raise FilterError(f"illegal qualifier of '{q.kind}'")
        transport = q.proto
        if q.kind == "port":
            low, named_transport = port_number(ident)
            high = low
        else:
            (low, named_transport), (high, _) = port_range(ident)
        transport = transport or named_transport
        protos = PORT_PROTOS if transport is None else (IPPROTO[transport],)

        def in_range(field: Value) -> Pred:
            if low == high:
                return cmp("eq", field, Const(low))
            return conj(cmp("ge", field, Const(low)), inv(cmp("gt", field, Const(high))))

        # one copy of the port tests per transport protocol, as tcpdump generates them
        six = conj(self.ethertype(ETHERTYPE_IPV6), any_of(*(
            conj(cmp("eq", self.byte(6), Const(proto)),
                 self._directions(q.dir, in_range(Load(2, Const(self.net(40)))),
                                  in_range(Load(2, Const(self.net(42))))))
            for proto in protos)))
        four = conj(self.ethertype(ETHERTYPE_IP), any_of(*(
            all_of(cmp("eq", self.byte(9), Const(proto)), self.not_fragment(),
                   self._directions(q.dir, in_range(Load(2, self.transport(0))),
                                    in_range(Load(2, self.transport(2)))))
            for proto in protos)))
        return disj(six, four)

    # --- arithmetic
    def relation(self, node: Relation) -> Pred:
        left_check, left = self.value(node.left)
        right_check, right = self.value(node.right)
        op = node.op
        if op in ("lt", "le", "ne"):
            test = inv(cmp({"lt": "ge", "le": "gt", "ne": "eq"}[op], left, right, "relation"))
        else:
            test = cmp(op, left, right, "relation")
        return all_of(left_check, right_check, test)

    def value(self, node) -> tuple[Pred, Value]:
        if isinstance(node, Number):
            return TRUE, Const(node.value & MASK32)
        if isinstance(node, PacketLength):
            return TRUE, WireLength()
        if isinstance(node, Negative):
            check, operand = self.value(node.operand)
            return check, negate(operand)
        if isinstance(node, Binary):
            left_check, left = self.value(node.left)
            # tcpdump keeps only the left operand's protocol tests (`len << ip[0]` tests no ip)
            _, right = self.value(node.right)
            # tcpdump checks the folded constant, and also the first constant its code for the right
            # operand loads, whatever follows (so `len / ip[0]` is a "division by zero")
            for divisor in (right.value if isinstance(right, Const) else None, _first_constant(node.right)):
                if node.op in ("/", "%") and divisor == 0:
                    raise FilterError("division by zero" if node.op == "/" else "modulus by zero")
                if node.op in ("<<", ">>") and divisor is not None and divisor > 31:
                    raise FilterError("shift by more than 31 bits")
            return left_check, arith(node.op, left, right)
        return self.access(node)

    def access(self, node: Access) -> tuple[Pred, Value]:
        proto = node.proto
        if proto in ("ether", "link"):
            check, base, header = TRUE, 0, None
        elif proto in ("ip", "ip6", "arp", "rarp"):
            check, base, header = self.proto_test(proto), self.net(0), None
        elif proto == "icmp6":
            check = conj(self.ethertype(ETHERTYPE_IPV6), cmp("eq", self.byte(6), Const(58)))
            base, header = self.net(40), None
        else:  # tcp, udp, sctp, icmp, igmp: IPv4 only, and not a later fragment
            check = all_of(self.ethertype(ETHERTYPE_IP), self.proto_test(proto), self.not_fragment())
            base, header = self.net(0), HeaderLength(self.net(0))
        index_check, index = self.value(node.index)
        check = conj(check, index_check)
        if isinstance(index, Const):
            if header is None:
                return check, Load(node.size, Const((base + index.value) & MASK32))
            return check, Load(node.size, Arith("+", header, Const((base + index.value) & MASK32)))
        offset: Value = index if header is None else Arith("+", index, header)
        return check, Load(node.size, Arith("+", offset, Const(base)))


def _first_constant(node) -> int | None:
    """The constant the code for an arithmetic operand starts by loading, if it starts with one."""
    while not isinstance(node, Number):
        if isinstance(node, Access):
            node = node.index
        elif isinstance(node, Binary):
            node = node.left
        elif isinstance(node, Negative):
            node = node.operand
        else:
            return None
    return node.value & MASK32


def _mac_parts(text: str) -> list[str]:
    for separator in (":", "-", "."):
        if separator in text:
            return text.split(separator)
    return [text]


def ipv4_network(ident: Ident, kind: str | None) -> tuple[int, int]:
    """(address, mask) as tcpdump reads `host 10`, `host 10.1`, `net 10`, `net 10.0.0.0/8`, `mask`."""
    if ident.kind == "num":
        address, mask = ident.value & MASK32, MASK32
        if kind == "net":  # a bare number is a short network number: `net 10` is 10.0.0.0/8
            while address and not address & 0xFF000000:
                address, mask = address << 8, (mask << 8) & MASK32
        return address, mask
    text = ident.text
    parts = text.split(".")
    if any(not part.isdigit() or int(part) > 255 for part in parts) or len(parts) > 4:
        raise FilterError(f"invalid IPv4 address '{text}'")
    address = 0
    for part in parts:
        address = address << 8 | int(part)
    address <<= 8 * (4 - len(parts))
    mask = (MASK32 << (32 - 8 * len(parts))) & MASK32
    written = text
    if ident.prefix is not None:
        if ident.prefix > 32:
            raise FilterError("mask length must be <= 32")
        mask = (MASK32 << (32 - ident.prefix)) & MASK32
        written = f"{text}/{ident.prefix}"
    elif ident.mask is not None:
        mask, _ = ipv4_network(Ident("hid", ident.mask), "net")
        written = f"{text} mask {ident.mask}"
    if kind == "host" and ident.mask is not None:
        raise FilterError("mask syntax for networks only")
    if address & ~mask & MASK32:
        raise FilterError(f'non-network bits set in "{written}"')
    return address, mask


def port_number(ident: Ident) -> tuple[int, str | None]:
    if ident.kind == "num":
        number, transport = ident.value, None
    elif ident.kind == "id":
        number, transport = names.service_port(ident.text)
    else:
        raise FilterError(f"illegal port number '{ident.text}'")
    if number > 65535:
        raise FilterError(f"illegal port number {number} > 65535")
    return number, transport


def port_range(ident: Ident) -> tuple[tuple[int, str | None], tuple[int, str | None]]:
    if ident.kind == "num":
        single = port_number(ident)
        return single, single
    if ident.kind != "id" or "-" not in ident.text:
        raise FilterError(f"illegal port range '{ident.text}'")
    low_text, high_text = ident.text.split("-", 1)
    ends = []
    for text in (low_text, high_text):
        end = Ident("num", text, int(text)) if text.isdigit() else Ident("id", text)
        ends.append(port_number(end))
    low, high = sorted(ends, key=lambda end: end[0])
    return low, high
