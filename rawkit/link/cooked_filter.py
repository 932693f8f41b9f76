"""Run a classic BPF program written for Linux cooked v2 frames (what `-i any` captures) on the
SOCK_DGRAM packet socket that produces them.

Why a rewrite: the kernel runs the program on the packet from its network header on; the 20-byte
cooked header is only built afterwards, from metadata. So loads past the header move back by 20
bytes, and loads of the header's fields become the kernel's ancillary loads of the same values
(protocol, packet type, interface index, hardware type). The frame length (`len`, `less`,
`greater`) stays the kernel's: the network-layer length, which is what tcpdump's `-i any` tests too.
A program that reads anything else of the header (the link-layer address) cannot be rewritten; the
caller filters in userspace then.
"""

from __future__ import annotations

from collections.abc import Sequence

SLL2_HEADER_LEN = 20
SKF_AD_OFF = -0x1000
SKF_AD_PROTOCOL = 0
SKF_AD_PKTTYPE = 4
SKF_AD_IFINDEX = 8
SKF_AD_HATYPE = 28

_LD, _LDX, _RET = 0x00, 0x01, 0x06
_ABS, _IND, _MSH = 0x20, 0x40, 0xA0
_WORD, _HALF, _BYTE = 0x00, 0x08, 0x10
_RET_K = 0x00

# (offset in the cooked v2 header, load size) -> the ancillary value that holds that field
_HEADER_FIELDS = {(0, _HALF): SKF_AD_PROTOCOL, (4, _WORD): SKF_AD_IFINDEX, (8, _HALF): SKF_AD_HATYPE,
                  (10, _BYTE): SKF_AD_PKTTYPE}

Instruction = tuple[int, int, int, int]


def for_cooked_socket(program: Sequence[Instruction]) -> list[Instruction] | None:
    """The program rewritten to run on the network-layer data of a SOCK_DGRAM packet socket, or
    None when it reads something the kernel cannot give it there."""
    rewritten = []
    for code, jump_true, jump_false, k in program:
        kind, mode = code & 0x07, code & 0xE0
        if kind == _LD and mode == _ABS:
            if k >= SLL2_HEADER_LEN:
                k -= SLL2_HEADER_LEN
            else:
                field = _HEADER_FIELDS.get((k, code & 0x18))
                if field is None:
                    return None
                k = (SKF_AD_OFF + field) & 0xFFFFFFFF
        elif (kind == _LD and mode == _IND) or (kind == _LDX and mode == _MSH):
            if k < SLL2_HEADER_LEN:
                return None
            k -= SLL2_HEADER_LEN
        elif kind == _RET and code & 0x18 == _RET_K and k:
            k = max(k - SLL2_HEADER_LEN, 1)  # the snap length counts the header we add later
        rewritten.append((code, jump_true, jump_false, k))
    return rewritten
