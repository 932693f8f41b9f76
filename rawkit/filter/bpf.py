"""Back end 2: the decision graph as a classic BPF program, (code, jt, jf, k) tuples that
SO_ATTACH_FILTER accepts. Conditional jumps only reach 255 instructions ahead, so far targets get an
unconditional `ja` trampoline."""

from __future__ import annotations

from rawkit.filter.dag import Graph, Node, topological
from rawkit.filter.errors import FilterError
from rawkit.filter.ir import Arith, Const, HeaderLength, Load, Neg, Value, WireLength

# instruction classes, sizes, modes, operations (linux/filter.h)
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
K, X = 0x00, 0x08
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
ALU_OPS = {"+": 0x00, "-": 0x10, "*": 0x20, "/": 0x30, "|": 0x40, "&": 0x50, "<<": 0x60, ">>": 0x70,
           "%": 0x90, "^": 0xA0}
NEG = 0x80
TAX, TXA = 0x00, 0x80
RET_A = 0x10
SIZES = {1: B, 2: H, 4: W}
JUMPS = {"eq": JEQ, "gt": JGT, "ge": JGE, "set": JSET}
MAX_INSTRUCTIONS = 4096
SCRATCH_SLOTS = 16


class _Assembler:
    def __init__(self) -> None:
        self.items: list[list] = []  # [code, jt, jf, k] (labels in jt/jf/k for jumps) or ["label", name]
        self.labels = 0
        self.scratch = 0

    def label(self) -> str:
        self.labels += 1
        return f"L{self.labels}"

    def place(self, label: str) -> None:
        self.items.append(["label", label])

    def emit(self, code: int, k: int = 0, jt: str | None = None, jf: str | None = None) -> None:
        self.items.append([code, jt, jf, k])

    def jump(self, label: str) -> None:
        self.items.append([JMP | JA, None, None, label])

    # --- values into A (and X)
    def value(self, value: Value) -> None:
        if isinstance(value, Const):
            self.emit(LD | IMM, value.value)
        elif isinstance(value, WireLength):
            self.emit(LD | W | LEN)
        elif isinstance(value, HeaderLength):
            self.emit(LDX | B | MSH, value.offset)
            self.emit(MISC | TXA)
        elif isinstance(value, Load):
            address = value.address
            size = SIZES[value.size]
            if isinstance(address, Const):
                self.emit(LD | size | ABS, address.value)
            elif isinstance(address, Arith) and address.op == "+" and isinstance(address.right, Const):
                self.index(address.left)
                self.emit(LD | size | IND, address.right.value)
            else:
                self.index(address)
                self.emit(LD | size | IND, 0)
        elif isinstance(value, Neg):
            self.value(value.operand)
            self.emit(ALU | NEG)
        else:
            self.binary(ALU, ALU_OPS[value.op], value.left, value.right)

    def index(self, value: Value) -> None:
        """Put `value` in X."""
        if isinstance(value, HeaderLength):
            self.emit(LDX | B | MSH, value.offset)
        elif isinstance(value, Const):
            self.emit(LDX | IMM, value.value)
        else:
            self.value(value)
            self.emit(MISC | TAX)

    def binary(self, kind: int, op: int, left: Value, right: Value, jt: str | None = None,
               jf: str | None = None) -> None:
        if isinstance(right, Const):
            self.value(left)
            self.emit(kind | op | K, right.value, jt, jf)
            return
        if self.scratch == SCRATCH_SLOTS:
            raise FilterError("expression too complex")
        slot = self.scratch
        self.scratch += 1
        self.value(right)
        self.emit(ST, slot)
        self.value(left)
        self.emit(LDX | MEM, slot)
        self.scratch -= 1
        self.emit(kind | op | X, 0, jt, jf)

    # --- the decision graph as jumps
    def graph(self, root: Node, accept: str, reject: str) -> None:
        labels = {id(node): self.label() for node in topological(root)}

        def target(node: Node) -> str:
            if node.leaf:
                return accept if node.verdict else reject
            return labels[id(node)]

        for node in topological(root):
            self.place(labels[id(node)])
            test = node.test
            self.binary(JMP, JUMPS[test.op], test.left, test.right, target(node.high), target(node.low))

    def assemble(self) -> list[tuple[int, int, int, int]]:
        while True:
            positions: dict[str, int] = {}
            count = 0
            for item in self.items:
                if item[0] == "label":
                    positions[item[1]] = count
                else:
                    count += 1
            far = []
            index = 0
            for position, item in enumerate(self.items):
                if item[0] == "label":
                    continue
                code, jt, jf, _ = item
                if code & 0x07 == JMP and code != JMP | JA:
                    for slot, target in ((1, jt), (2, jf)):
                        if positions[target] - index - 1 > 255:
                            far.append((position, slot))
                index += 1
            if not far:
                break
            for position, slot in reversed(far):
                trampoline = self.label()
                target = self.items[position][slot]
                self.items[position][slot] = trampoline
                far_jump = [JMP | JA, None, None, target]
                self.items[position + 1 : position + 1] = [["label", trampoline], far_jump]
        program = []
        for item in self.items:
            if item[0] == "label":
                continue
            code, jt, jf, k = item
            here = len(program)
            if code == JMP | JA:
                program.append((code, 0, 0, positions[k] - here - 1))
            elif code & 0x07 == JMP:
                program.append((code, positions[jt] - here - 1, positions[jf] - here - 1, k))
            else:
                program.append((code, 0, 0, k))
        if len(program) > MAX_INSTRUCTIONS:
            raise FilterError("expression too complex")
        return program


def bpf_program(graph: Graph, snaplen: int = 262144) -> list[tuple[int, int, int, int]]:
    """The classic BPF program for the decision graph: returns `snaplen` for a match, 0 otherwise."""
    root = graph.root
    assembler = _Assembler()
    if graph.prelude is not None:  # loads tcpdump keeps from a first test it optimised away
        for value in (graph.prelude.left, graph.prelude.right):
            if not isinstance(value, Const):
                assembler.value(value)
    if root.leaf:
        assembler.emit(RET | K, snaplen if root.verdict else 0)
        return assembler.assemble()
    accept, reject = assembler.label(), assembler.label()
    assembler.graph(root, accept, reject)
    assembler.place(accept)
    assembler.emit(RET | K, snaplen)
    assembler.place(reject)
    assembler.emit(RET | K, 0)
    return assembler.assemble()
