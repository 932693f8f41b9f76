"""tcpdump's SNMP summary (`tcpdump -nn`, 4.99: v1, v2c and v3 with USM), from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 161 or 162 (after DNS, mDNS and
BOOTP, before NTP and the rest). The text replaces "UDP, length N" and starts with a space:
" GetRequest(25)  .1.3.6.1.2.1.1.1.0", with -v " { SNMPv2c { GetRequest(25) R=5  .1.3.6.1.2.1.1.1.0 } } ".
Malformed BER gets tcpdump's bracketed complaints ("[len8<asnlen38]", "[!varbind]3", ...), and a
message the capture cut short only "  [|snmp]".
"""

from __future__ import annotations

_UNIVERSAL = ("U-0", "Boolean", "Integer", "Bitstring", "String", "Null", "ObjID", "ObjectDes", "U-8", "U-9",
              "U-10", "U-11", "U-12", "U-13", "U-14", "U-15", "Sequence", "Set")
_APPLICATION = ("IpAddress", "Counter", "Gauge", "TimeTicks", "Opaque", "C-5", "Counter64")
_CONTEXT_VALUES = ("noSuchObject", "noSuchInstance", "endOfMibView")
_PDUS = ("GetRequest", "GetNextRequest", "GetResponse", "SetRequest", "Trap", "GetBulk", "Inform", "V2Trap",
         "Report")
_ERRORS = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType",
           "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
           "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable",
           "inconsistentName")
_GENERIC_TRAPS = ("coldStart", "warmStart", "linkDown", "linkUp", "authenticationFailure", "egpNeighborLoss",
                  "enterpriseSpecific")
_UNIVERSAL_CLASS, _APPLICATION_CLASS, _CONTEXT_CLASS, _PRIVATE_CLASS = 0, 1, 2, 3
_INTEGER, _STRING, _NULL, _OID, _SEQUENCE = 2, 4, 5, 6, 16
_TRAP_V1 = 4
_REQUESTS = (0, 1, 5)  # GetRequest, GetNextRequest, GetBulk: their values must be NULL
_GET_BULK = 5
_V2_ONLY = (5, 6, 7, 8)  # GetBulk, Inform, V2Trap, Report
_ANSWERS = (2,)  # GetResponse: the only PDU that may carry an error status
_ENTERPRISE_SPECIFIC = 6
_VERSIONS = {0: "SNMPv1", 1: "SNMPv2c"}


class _Stop(Exception):
    """tcpdump printed a complaint and gives up on this message; `args[0]` is the text so far."""


class _Element:
    """One parsed BER element: its class, form, tag, content bytes and total size."""

    __slots__ = ("klass", "constructed", "tag", "content", "size")

    def __init__(self, klass: int, constructed: bool, tag: int, content: bytes, size: int) -> None:
        self.klass, self.constructed, self.tag = klass, constructed, tag
        self.content, self.size = content, size

    def is_(self, tag: int) -> bool:
        return self.klass == _UNIVERSAL_CLASS and not self.constructed and self.tag == tag

    def is_sequence(self) -> bool:
        return self.klass == _UNIVERSAL_CLASS and self.constructed and self.tag == _SEQUENCE


def _type_name(klass: int, tag: int) -> str | None:
    names = {_UNIVERSAL_CLASS: _UNIVERSAL, _APPLICATION_CLASS: _APPLICATION}.get(klass, ("P-0",))
    if klass == _CONTEXT_CLASS:
        return None
    return names[tag] if tag < len(names) else None


def _parse(data: bytes, out: list[str]) -> _Element:
    """The element at the start of `data`; complaints go to `out` and stop the message."""
    if not data:
        raise _Stop("[nothing to parse]")
    identifier = data[0]
    klass, constructed, tag = identifier >> 6, bool(identifier & 0x20), identifier & 0x1F
    header = 1
    if tag == 0x1F:  # high tag number: 7 bits per byte until one without the top bit
        tag = 0
        while True:
            if header >= len(data):
                raise _Stop(" [|snmp]")
            byte = data[header]
            header += 1
            tag = ((tag << 7) | (byte & 0x7F)) & 0xFF  # tcpdump keeps the tag in one byte
            if not byte & 0x80:
                break
    if len(data) <= header:
        raise _Stop("[no asnlen]")
    length = data[header]
    header += 1
    if length & 0x80:
        count = length & 0x7F
        if len(data) - header < count:
            raise _Stop(f"[asnlen? {len(data) - header}<{count}]")
        length = int.from_bytes(data[header : header + count], "big") & 0xFFFFFFFF
        header += count
    if len(data) - header < length:
        raise _Stop(f"[len{len(data) - header}<asnlen{length}]")
    if klass == _UNIVERSAL_CLASS and not constructed and tag == _INTEGER and not length:
        raise _Stop("[asnlen=0]")
    form = "C" if constructed else "P"
    known = (tag < 9 if klass == _CONTEXT_CLASS else _type_name(klass, tag) is not None)
    if not known:
        raise _Stop(f"[id?{form}/x/{tag}]")
    if constructed and not (klass == _UNIVERSAL_CLASS and tag == _SEQUENCE) and klass != _CONTEXT_CLASS:
        out.append(f"C/{'U' if klass == _UNIVERSAL_CLASS else 'x'}/{_type_name(klass, tag)}")
    elif not constructed and not _decoded(klass, tag):
        letter = {_UNIVERSAL_CLASS: "U", _APPLICATION_CLASS: "A"}.get(klass, "x")
        out.append(f"[P/{letter}/{_type_name(klass, tag)}]")
    return _Element(klass, constructed, tag, data[header : header + length], header + length)


def _decoded(klass: int, tag: int) -> bool:
    """Whether tcpdump prints a primitive element as a value rather than as its type and bytes."""
    if klass == _UNIVERSAL_CLASS:
        return tag in (_INTEGER, _STRING, _NULL, _OID)
    if klass == _APPLICATION_CLASS:
        return tag in (0, 1, 2, 3, 6)
    return klass == _CONTEXT_CLASS


def _signed(content: bytes) -> int:
    value = -1 if content[0] & 0x80 else 0
    for byte in content:
        value = ((value << 8) | byte) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _unsigned(content: bytes, bits: int = 32) -> int:
    value = 0
    for byte in content:
        value = ((value << 8) | byte) & ((1 << bits) - 1)
    return value


def _oid(content: bytes) -> str:
    parts = []
    value = 0
    first = True
    for byte in content:
        value = ((value << 7) | (byte & 0x7F)) & 0xFFFFFFFF
        if byte & 0x80:
            continue
        if first:  # C arithmetic on a signed 32-bit value, as tcpdump does it
            signed = value - (1 << 32) if value & 0x80000000 else value
            head = abs(signed) // 40 * (1 if signed >= 0 else -1)
            tail = signed - 40 * head
            if head > 2:
                head, tail = 2, signed - 80
            parts += [str(head & 0xFFFFFFFF), str(tail & 0xFFFFFFFF)]
            first = False
        else:
            parts.append(str(value))
        value = 0
    return "".join("." + part for part in parts)


def _hex(content: bytes, separator_first: bool) -> str:
    text = "_".join(f"{byte:02x}" for byte in content)
    return ("_" + text if content else "") if separator_first else text


def _value(element: _Element) -> str:
    """An element as tcpdump prints a value."""
    klass, tag, content = element.klass, element.tag, element.content
    if element.constructed:
        if klass == _UNIVERSAL_CLASS and tag == _SEQUENCE:
            return f"Seq({len(content)})"
        if klass == _CONTEXT_CLASS:
            return f"{_PDUS[tag]}({len(content)})"
        return _hex(content, True)
    if klass == _UNIVERSAL_CLASS:
        if tag == _INTEGER:
            return _signed(content) if content else "[asnlen=0]"
        if tag == _STRING:
            if all(0x20 <= byte < 0x7F for byte in content):
                return f'"{content.decode("ascii")}"'
            return _hex(content, False)
        if tag == _NULL:
            return ""
        if tag == _OID:
            return _oid(content)
    elif klass == _APPLICATION_CLASS:
        if tag == 0:
            address = ".".join(str(byte) for byte in content)
            return address if len(content) == 4 else f"[inetaddr len!=4]{address}"
        if tag in (1, 2, 3):
            return str(_unsigned(content))
        if tag == 6:
            return str(_unsigned(content, 64))
    elif klass == _CONTEXT_CLASS:
        return f"[{_CONTEXT_VALUES[tag]}]" if tag < len(_CONTEXT_VALUES) else "[BE_ANY!?]"
    return _hex(content, True)


class _Printer:
    """Walks one message, appending tcpdump's text to `out`."""

    def __init__(self, verbose: int) -> None:
        self.verbose = verbose
        self.out: list[str] = []

    def element(self, data: bytes) -> _Element:
        try:
            return _parse(data, self.out)
        except _Stop as stop:
            self.out.append(stop.args[0])
            raise

    def expect(self, data: bytes, check, complaint: str) -> _Element:
        element = self.element(data)
        if not check(element):
            self.out.append(complaint + str(_value(element)))
            raise _Stop("")
        return element

    def integer(self, data: bytes, complaint: str) -> tuple[int, bytes]:
        element = self.expect(data, lambda e: e.is_(_INTEGER), complaint)
        return _signed(element.content) if element.content else 0, data[element.size :]

    def message(self, payload: bytes) -> None:
        out = self.out
        outer = self.element(payload)
        if not outer.is_sequence():
            out.append("[!init SEQ]" + str(_value(outer)))
            return
        if outer.size < len(payload):
            out.append(f"[{len(payload) - outer.size} extra after iSEQ]")
        rest = outer.content
        version_element = self.expect(rest, lambda e: e.is_(_INTEGER), "[version!=INT]")
        version = _signed(version_element.content) if version_element.content else 0
        rest = rest[version_element.size :]
        if version == 3:
            if self.verbose:
                out.append("{ SNMPv3 ")
            try:
                self.version3(rest)
            finally:
                if self.verbose:
                    out.append("} ")
            return
        if version not in _VERSIONS:
            out.append(f"SNMP [version = {version}]")
            return
        if self.verbose:
            out.append("{ " + _VERSIONS[version] + " ")
        try:
            community = self.expect(rest, lambda e: e.is_(_STRING), "[comm!=STR]")
            if community.content != b"public":
                out.append(f"C={_value(community)} ")
            rest = rest[community.size :]
            self.pdu(rest, version)
        finally:
            if self.verbose:
                out.append("} ")

    def version3(self, data: bytes) -> None:
        """An SNMPv3 message: header flags, the USM parameters, then the scoped PDU."""
        out, verbose = self.out, self.verbose
        header = self.expect(data, _Element.is_sequence, "[!message]")
        if verbose:
            out.append("{ ")
        content_start = header.size - len(header.content)
        inner = header.content
        _, inner = self.integer(inner, "[msgID!=INT]")
        _, inner = self.integer(inner, "[msgMaxSize!=INT]")
        flags_element = self.expect(inner, lambda e: e.is_(_STRING), "[msgFlags!=STR]")
        if len(flags_element.content) != 1:
            out.append(f"[msgFlags size {len(flags_element.content)}]")
            raise _Stop("")
        flags = flags_element.content[0]
        if flags & 0xF8 or flags & 0x03 == 0x02:  # unknown bits, or privacy without authentication
            out.append(f"[msgFlags=0x{flags:02X}]")
            raise _Stop("")
        letters = "".join(letter for bit, letter in ((1, "a"), (2, "p"), (4, "r")) if flags & bit)
        out.append(f"F={letters} ")
        after_flags = inner[flags_element.size :]
        model, rest = self.integer(after_flags, "[msgSecurityModel!=INT]")
        model_size = len(after_flags) - len(rest)
        if len(rest) > model_size:  # tcpdump counts the model field twice here
            out.append(f"[{len(rest) - model_size} extra after message SEQ]")
        # and reads on right after the model field, whatever length the header claimed
        data = data[content_start + len(header.content) - len(rest) :]
        if verbose:
            out.append("} ")
        if model != 3:
            out.append(f"[security model {model}]")
            raise _Stop("")
        if verbose:
            out.append("{ USM ")
        parameters = self.expect(data, lambda e: e.is_(_STRING), "[msgSecurityParameters!=STR]")
        data = data[parameters.size :]
        try:
            self.user_security(parameters.content)
        except _Stop:
            pass
        if verbose:
            out.append("} { ScopedPDU ")
        try:
            scoped = self.expect(data, _Element.is_sequence, "[!scoped PDU]")
            inner = scoped.content
            engine = self.expect(inner, lambda e: e.is_(_STRING), "[contextEngineID!=STR]")
            out.append("E=" + _hex(engine.content, True) + " ")
            inner = inner[engine.size :]
            context = self.expect(inner, lambda e: e.is_(_STRING), "[contextName!=STR]")
            out.append(f"C={_value(context)} ")
            self.pdu(inner[context.size :], 3)
        finally:
            if verbose:
                out.append("} ")

    def user_security(self, data: bytes) -> None:
        """USM parameters: -v shows boots, time and user, otherwise the user only."""
        out = self.out
        block = self.expect(data, _Element.is_sequence, "[!usm]")
        inner = block.content
        engine = self.expect(inner, lambda e: e.is_(_STRING), "[msgAuthoritativeEngineID!=STR]")
        inner = inner[engine.size :]
        boots, inner = self.integer(inner, "[msgAuthoritativeEngineBoots!=INT]")
        if self.verbose:
            out.append(f"B={boots} ")
        time, inner = self.integer(inner, "[msgAuthoritativeEngineTime!=INT]")
        if self.verbose:
            out.append(f"T={time} ")
        user = self.expect(inner, lambda e: e.is_(_STRING), "[msgUserName!=STR]")
        out.append(f"U={_value(user)} ")
        inner = inner[user.size :]
        authentication = self.expect(inner, lambda e: e.is_(_STRING), "[msgAuthenticationParameters!=STR]")
        inner = inner[authentication.size :]
        privacy = self.expect(inner, lambda e: e.is_(_STRING), "[msgPrivacyParameters!=STR]")
        if len(inner) - privacy.size > privacy.size:  # the same double count as in the message header
            out.append(f"[{len(inner) - 2 * privacy.size} extra after usm SEQ]")

    def pdu(self, data: bytes, version: int) -> None:
        out = self.out
        element = self.element(data)
        if element.klass != _CONTEXT_CLASS or not element.constructed:
            out.append("[no PDU]")
            raise _Stop("")
        if element.size < len(data):
            out.append(f"[{len(data) - element.size} extra after PDU]")
        tag = element.tag
        if self.verbose:
            out.append("{ ")
        out.append(f"{_PDUS[tag]}({len(element.content)})")
        if tag == _TRAP_V1 and version == 1:
            out.append(" [v1 PDU in v2 message]")
            raise _Stop("")
        if tag in _V2_ONLY and version == 0:
            out.append(" [v2 PDU in v1 message]")
            raise _Stop("")
        out.append(" ")
        try:
            if tag == _TRAP_V1:
                self.trap(element.content)
            else:
                self.request(element.content, tag)
        except _Stop:
            pass
        if self.verbose:
            out.append(" } ")

    def request(self, data: bytes, tag: int) -> None:
        out = self.out
        request_id, data = self.integer(data, "[reqId!=INT]")
        if self.verbose:
            out.append(f"R={request_id} ")
        if tag == _GET_BULK:
            repeaters, data = self.integer(data, "[errorStatus!=INT]")
            out.append(f" N={repeaters}")
            repetitions, data = self.integer(data, "[errorIndex!=INT]")
            out.append(f" M={repetitions}")
        else:
            status, data = self.integer(data, "[errorStatus!=INT]")
            name = _ERRORS[status] if 0 <= status < len(_ERRORS) else f"err={status & 0xFFFFFFFF}"
            answer = tag in _ANSWERS
            if status:
                out.append(f" {name}" if answer else f"[errorStatus({name})!=0]")
            index, data = self.integer(data, "[errorIndex!=INT]")
            if not answer:
                if index:
                    out.append(f"[errorIndex({index})!=0]")
            elif status:
                out.append(f"@{index}" if index else "[errorIndex==0]")
            elif index:
                out.append(f"[errorIndex({index}) w/o errorStatus]")
        self.varbinds(data, tag in _REQUESTS)

    def trap(self, data: bytes) -> None:
        out = self.out
        out.append(" ")
        enterprise = self.expect(data, lambda e: e.is_(_OID), "[enterprise!=OID]")
        out.append(_value(enterprise) + " ")
        data = data[enterprise.size :]
        agent = self.expect(data, lambda e: e.klass == _APPLICATION_CLASS and e.tag == 0,
                            "[agent-addr!=INETADDR]")
        out.append(_value(agent))
        data = data[agent.size :]
        generic, data = self.integer(data, "[generic-trap!=INT]")
        out.append(" " + (_GENERIC_TRAPS[generic] if 0 <= generic < len(_GENERIC_TRAPS) else f"gt={generic}"))
        specific, data = self.integer(data, "[specific-trap!=INT]")
        if generic == _ENTERPRISE_SPECIFIC:
            out.append(f" s={specific}")
        elif specific:
            out.append(f"[specific-trap({specific})!=0]")
        out.append(" ")
        stamp = self.expect(data, lambda e: e.klass == _APPLICATION_CLASS and e.tag == 3,
                            "[time-stamp!=TIMETICKS]")
        out.append(str(_value(stamp)))
        self.varbinds(data[stamp.size :], False)

    def varbinds(self, data: bytes, requests: bool) -> None:
        out = self.out
        listing = self.expect(data, _Element.is_sequence, "[!SEQ of varbind]")
        if listing.size < len(data):
            out.append(f"[{len(data) - listing.size} extra after SEQ of varbind]")
        data = listing.content
        while data:
            out.append(" ")
            binding = self.element(data)
            if not binding.is_sequence():
                out.append("[!varbind]" + str(_value(binding)))
                raise _Stop("")
            inner = binding.content
            name = self.expect(inner, lambda e: e.is_(_OID), "[objName!=OID]")
            out.append(_value(name))
            inner = inner[name.size :]
            if not requests:
                out.append("=")
            value = self.element(inner)
            if not requests:
                out.append(str(_value(value)))
            elif not value.is_(_NULL):
                out.append("[objVal!=NULL]" + str(_value(value)))
                raise _Stop("")
            data = data[binding.size :]


def format_snmp(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str:
    """What replaces "UDP, length N" for this SNMP payload (with its leading space); never raises.

    `length` is the payload's length on the wire: tcpdump gives up on a message the capture cut.
    """
    if length is not None and length > len(payload):
        return "  [|snmp]"
    printer = _Printer(verbose)
    try:
        printer.message(payload)
    except _Stop:
        pass
    return " " + "".join(printer.out)

