"""tcpdump's summaries of line-based text protocols (`tcpdump -nn`, 4.99), from its observed output.

One engine serves HTTP, RTSP, SIP, FTP, SMTP and WHOIS; they differ only in name, port and command
list. When tcpdump 4.99 uses it (measured with crafted captures):

    TCP 80, 8080: HTTP     TCP 554, 8554: RTSP     UDP 5060: SIP (not TCP)
    TCP 21: FTP            TCP 25: SMTP            TCP 43: WHOIS

tcpdump gives a segment to one printer, the first in this order whose port is on either side, even
when that printer then prints nothing: TCP SMTP 25, WHOIS 43, SSH 22 (ssh.py), FTP 21, HTTP 80/8080,
RTSP 554/8554, DNS 53; UDP DNS 53, mDNS 5353, BOOTP 67/68, SNMP 161/162, NTP 123, DHCPv6 546/547,
SIP 5060, syslog 514.

On TCP the text follows ", length N" with no space ("length 78: HTTP: GET / HTTP/1.1"); tcpdump
prints nothing for a segment without data. On UDP it replaces "UDP, length N" ("SIP: INVITE ...").
A payload counts as the protocol when it starts with one of the protocol's commands (any case) or
with a status-like "<token> <3 digits>" (a printable token of at most 128 bytes), each followed by a
blank, CR, LF or the end; FTP, SMTP and WHOIS have no command list and always count. The first line
is then shown if it holds only printable ASCII and tabs and ends in LF or CRLF; a line the payload
cuts short is shown with " [|ftp]" (the protocol's name). With -v tcpdump prints ", length: N" and
every line on its own tab-indented line, up to the first line breaking those rules. Anything else
is just the protocol's name.
"""

from __future__ import annotations

import re

HTTP_METHODS = frozenset((
    b"GET", b"PUT", b"COPY", b"HEAD", b"LOCK", b"MOVE", b"POLL", b"POST", b"BCOPY", b"BMOVE", b"MKCOL",
    b"TRACE", b"LABEL", b"MERGE", b"DELETE", b"SEARCH", b"UNLOCK", b"REPORT", b"UPDATE", b"NOTIFY",
    b"BDELETE", b"CONNECT", b"OPTIONS", b"CHECKIN", b"PROPFIND", b"CHECKOUT", b"CCM_POST", b"SUBSCRIBE",
    b"BPROPFIND", b"PROPPATCH", b"UNCHECKOUT", b"MKACTIVITY", b"MKWORKSPACE", b"UNSUBSCRIBE",
    b"RPC_CONNECT", b"VERSION-CONTROL", b"BASELINE-CONTROL", b"BPROPPATCH",
))
RTSP_METHODS = frozenset((
    b"OPTIONS", b"DESCRIBE", b"ANNOUNCE", b"GET_PARAMETER", b"PAUSE", b"PLAY", b"RECORD", b"REDIRECT",
    b"SETUP", b"SET_PARAMETER", b"TEARDOWN",
))
SIP_METHODS = frozenset((
    b"INVITE", b"ACK", b"BYE", b"CANCEL", b"REGISTER", b"INFO", b"PRACK", b"SUBSCRIBE", b"NOTIFY",
    b"UPDATE", b"MESSAGE", b"REFER", b"PUBLISH", b"OPTIONS",
))
# port -> (name, commands or None when every payload counts)
TCP_TEXT_PROTOCOLS = {80: ("HTTP", HTTP_METHODS), 8080: ("HTTP", HTTP_METHODS), 554: ("RTSP", RTSP_METHODS),
                      8554: ("RTSP", RTSP_METHODS), 21: ("FTP", None), 25: ("SMTP", None),
                      43: ("WHOIS", None)}
UDP_TEXT_PROTOCOLS = {5060: ("SIP", SIP_METHODS)}
_MAX_TOKEN = 128  # a longer first word is never a command or status for tcpdump
_TEXT_RUN = re.compile(rb"[\t\x20-\x7e]*")
_TOKEN_RUN = re.compile(rb"[\x21-\x7e]{0,%d}" % (_MAX_TOKEN + 1))
_STATUS_CODE = re.compile(rb" +[0-9]{3}")
_AFTER_TOKEN = frozenset(b" \t\r\n")


def _line(payload: bytes, start: int, cut: bool) -> tuple[bytes, int, str] | None:
    """(line, offset after it, how it ends) or None when it holds a byte tcpdump rejects.

    It ends as "eol" (LF or CRLF), "end" (the payload ends first) or "cut" (the capture ends first).
    """
    end = _TEXT_RUN.match(payload, start).end()
    if end == len(payload):
        return payload[start:], end, "cut" if cut else "end"
    byte = payload[end]
    if byte == 0x0A:
        return payload[start:end], end + 1, "eol"
    if byte == 0x0D:
        if end + 1 < len(payload) and payload[end + 1] == 0x0A:
            return payload[start:end], end + 2, "eol"
        if end + 1 == len(payload) and cut:
            return payload[start:end], len(payload), "cut"
    return None


def _ends_word(payload: bytes, offset: int, cut: bool) -> bool:
    if offset == len(payload):
        return not cut
    return payload[offset] in _AFTER_TOKEN


def _is_recognised(payload: bytes, commands: frozenset[bytes] | None, cut: bool) -> bool:
    """Whether tcpdump takes the payload for the protocol: one of its commands or "<token> <3 digits>"
    leads it (always, for protocols without a command list).

    The check looks at raw bytes; it does not require the first line to be printable.
    """
    if commands is None:
        return True
    token_end = _TOKEN_RUN.match(payload).end()
    if not 0 < token_end <= _MAX_TOKEN or not _ends_word(payload, token_end, cut):
        return False
    if payload[:token_end].upper() in commands:
        return True
    code = _STATUS_CODE.match(payload, token_end)
    return code is not None and _ends_word(payload, code.end(), cut)


def format_text_protocol(payload: bytes, name: str, commands: frozenset[bytes] | None, verbose: int = 0, *,
                         length: int | None = None) -> str:
    """TCP-style text for this payload: ": NAME: <first line>", ": NAME", or the multi-line -v form.

    `length` is the payload's length on the wire when the capture kept less. For UDP drop the
    leading ": "; for a TCP segment without data tcpdump prints nothing, so do not call this.
    Never raises.
    """
    length = max(length or 0, len(payload))
    cut = length > len(payload)
    truncated = f" [|{name.lower()}]"
    if not _is_recognised(payload, commands, cut):
        return f": {name}"
    if not verbose:
        first = _line(payload, 0, cut)
        if first is None:
            return f": {name}"
        text, _, ending = first
        if ending == "cut":
            return f": {name}{truncated}"
        return f": {name}: " + text.decode("ascii") + (truncated if ending == "end" else "")
    parts = [f": {name}, length: {length}"]
    offset = 0
    while offset < length:
        line = _line(payload, offset, cut)
        if line is None:
            break
        text, offset, ending = line
        if ending == "cut":
            parts.append(truncated)
            break
        parts.append("\n\t" + text.decode("ascii"))
        if ending == "end":
            parts.append(truncated)
    return "".join(parts)
