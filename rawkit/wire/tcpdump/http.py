"""tcpdump's HTTP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it (measured with crafted captures): TCP segments with a non-empty payload and
source or destination port 80 or 8080 (no other port: not 8000, 8008, 3128, 443, 8443). The text goes
right after ", length N" of the TCP line, with no space in between:

    IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
    IP 198.18.0.2.80 > 198.18.0.1.40000: Flags [.], seq 1:1449, ack 79, win 507, length 1448: HTTP

tcpdump takes a payload for HTTP when it starts with one of its 38 methods (any case) or with a
status-like "<token> <3 digits>" (any printable token of at most 128 bytes: "SIP/2.0 200 OK" counts
too), each followed by a blank, CR, LF or the end. The first line is then shown if it holds only
printable ASCII and tabs and ends in LF or CRLF; a line the payload cuts short is shown with
" [|http]". With -v tcpdump prints ", length: N" and every line on its own tab-indented line, up to
the first line breaking those rules. Anything else on these ports is just ": HTTP".
"""

from __future__ import annotations

import re

_METHODS = frozenset((
    b"GET", b"PUT", b"COPY", b"HEAD", b"LOCK", b"MOVE", b"POLL", b"POST", b"BCOPY", b"BMOVE", b"MKCOL",
    b"TRACE", b"LABEL", b"MERGE", b"DELETE", b"SEARCH", b"UNLOCK", b"REPORT", b"UPDATE", b"NOTIFY",
    b"BDELETE", b"CONNECT", b"OPTIONS", b"CHECKIN", b"PROPFIND", b"CHECKOUT", b"CCM_POST", b"SUBSCRIBE",
    b"BPROPFIND", b"PROPPATCH", b"UNCHECKOUT", b"MKACTIVITY", b"MKWORKSPACE", b"UNSUBSCRIBE",
    b"RPC_CONNECT", b"VERSION-CONTROL", b"BASELINE-CONTROL", b"BPROPPATCH",
))
_MAX_TOKEN = 128  # a longer first word is never HTTP for tcpdump
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


def _is_http(payload: bytes, cut: bool) -> bool:
    """Whether tcpdump takes the payload for HTTP: a known method or "<token> <3 digits>" leads it.

    The check looks at raw bytes; it does not require the first line to be printable.
    """
    token_end = _TOKEN_RUN.match(payload).end()
    if not 0 < token_end <= _MAX_TOKEN or not _ends_word(payload, token_end, cut):
        return False
    if payload[:token_end].upper() in _METHODS:
        return True
    code = _STATUS_CODE.match(payload, token_end)
    return code is not None and _ends_word(payload, code.end(), cut)


def format_http(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str | None:
    """What tcpdump appends after ", length N" for a TCP payload on port 80/8080; None if nothing.

    Returns ": HTTP: <first line>" for a request or status line, ": HTTP" for anything else, and
    with `verbose` the multi-line -v form. `length` is the payload's length on the wire when the
    capture kept less (short snap length). Never raises.
    """
    if not payload and not length:
        return None
    length = max(length or 0, len(payload))
    cut = length > len(payload)
    if not _is_http(payload, cut):
        return ": HTTP"
    if not verbose:
        first = _line(payload, 0, cut)
        if first is None:
            return ": HTTP"
        text, _, ending = first
        if ending == "cut":
            return ": HTTP [|http]"
        return ": HTTP: " + text.decode("ascii") + (" [|http]" if ending == "end" else "")
    parts = [f": HTTP, length: {length}"]
    offset = 0
    while offset < length:
        line = _line(payload, offset, cut)
        if line is None:
            break
        text, offset, ending = line
        if ending == "cut":
            parts.append(" [|http]")
            break
        parts.append("\n\t" + text.decode("ascii"))
        if ending == "end":
            parts.append(" [|http]")
    return "".join(parts)
