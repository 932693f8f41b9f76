"""A classic BPF interpreter, to check compiled programs against tcpdump without a kernel.

Follows the kernel's and libpcap's rules: unsigned 32-bit arithmetic, a load past the end of the
captured bytes or a division by zero ends the program with 0.
"""

from __future__ import annotations

from rawkit.filter.bpf import ABS, ALU, IMM, IND, JMP, LD, LDX, LEN, MEM, MISC, MSH, RET, RET_A, ST, STX, X

MASK32 = 0xFFFFFFFF
_SIZE = {0x00: 4, 0x08: 2, 0x10: 1}


class _OutOfBounds(Exception):
    pass


def _load(frame: bytes, offset: int, size: int) -> int:
    if offset < 0 or offset + size > len(frame):
        raise _OutOfBounds
    return int.from_bytes(frame[offset : offset + size], "big")


def _alu(op: int, a: int, operand: int) -> int:
    if op == 0x00:
        return (a + operand) & MASK32
    if op == 0x10:
        return (a - operand) & MASK32
    if op == 0x20:
        return (a * operand) & MASK32
    if op == 0x30:
        if operand == 0:
            raise _OutOfBounds
        return a // operand
    if op == 0x90:
        if operand == 0:
            raise _OutOfBounds
        return a % operand
    if op == 0x40:
        return a | operand
    if op == 0x50:
        return a & operand
    if op == 0xA0:
        return a ^ operand
    if op == 0x60:  # libpcap: a shift by 32 or more gives 0
        return (a << operand) & MASK32 if operand < 32 else 0
    if op == 0x70:
        return a >> operand if operand < 32 else 0
    if op == 0x80:
        return -a & MASK32
    raise ValueError(f"unknown ALU operation {op:#x}")


def run(program: list[tuple[int, int, int, int]], frame: bytes, wirelen: int | None = None) -> int:
    """Run `program` on `frame`; returns what the program returns (0 = reject)."""
    wirelen = len(frame) if wirelen is None else wirelen
    a = x = 0
    memory = [0] * 16
    pc = 0
    try:
        while True:
            code, jt, jf, k = program[pc]
            pc += 1
            kind = code & 0x07
            if kind == LD:
                mode = code & 0xE0
                if mode == IMM:
                    a = k
                elif mode == ABS:
                    a = _load(frame, k, _SIZE[code & 0x18])
                elif mode == IND:
                    a = _load(frame, x + k, _SIZE[code & 0x18])  # libpcap: no wrap-around
                elif mode == LEN:
                    a = wirelen
                elif mode == MEM:
                    a = memory[k]
            elif kind == LDX:
                mode = code & 0xE0
                if mode == IMM:
                    x = k
                elif mode == MEM:
                    x = memory[k]
                elif mode == LEN:
                    x = wirelen
                elif mode == MSH:
                    x = (_load(frame, k, 1) & 0x0F) << 2
            elif kind == ST:
                memory[k] = a
            elif kind == STX:
                memory[k] = x
            elif kind == ALU:
                a = _alu(code & 0xF0, a, x if code & X else k)
            elif kind == JMP:
                op = code & 0xF0
                if op == 0x00:
                    pc += k
                    continue
                operand = x if code & X else k
                if op == 0x10:
                    taken = a == operand
                elif op == 0x20:
                    taken = a > operand
                elif op == 0x30:
                    taken = a >= operand
                else:
                    taken = a & operand != 0
                pc += jt if taken else jf
            elif kind == RET:
                return a if code & 0x18 == RET_A else k
            elif kind == MISC:
                if code & 0xF8 == 0x80:
                    a = x
                else:
                    x = a
    except _OutOfBounds:
        return 0
