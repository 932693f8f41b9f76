"""tcpdump's HTTP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it (measured with crafted captures): TCP segments with a non-empty payload and
source or destination port 80 or 8080 (no other port: not 8000, 8008, 3128, 443, 8443; HTTP wins
over DNS when the other port is 53). The text goes right after ", length N" of the TCP line, with
no space in between:

    IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
    IP 198.18.0.2.80 > 198.18.0.1.40000: Flags [.], seq 1:1449, ack 79, win 507, length 1448: HTTP

tcpdump takes a payload for HTTP when it starts with one of its 38 methods (any case) or with a
status-like "<token> <3 digits>" (any printable token of at most 128 bytes: "SIP/2.0 200 OK" counts
too), each followed by a blank, CR, LF or the end. The first line is then shown if it holds only
printable ASCII and tabs and ends in LF or CRLF; a line the payload cuts short is shown with
" [|http]". With -v tcpdump prints ", length: N" and every line on its own tab-indented line, up to
the first line breaking those rules. Anything else on these ports is just ": HTTP". The engine is
shared with RTSP, SIP, FTP, SMTP and WHOIS (text_protocols.py).
"""

from __future__ import annotations

from rawkit.wire.tcpdump.text_protocols import HTTP_METHODS, format_text_protocol


def format_http(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str | None:
    """What tcpdump appends after ", length N" for a TCP payload on port 80/8080; None if nothing.

    Returns ": HTTP: <first line>" for a request or status line, ": HTTP" for anything else, and
    with `verbose` the multi-line -v form. `length` is the payload's length on the wire when the
    capture kept less (short snap length). Never raises.
    """
    if not payload and not length:
        return None
    return format_text_protocol(payload, "HTTP", HTTP_METHODS, verbose, length=length)
