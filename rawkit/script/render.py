"""Turn the tree back into script text: one statement a line, so `parse(render(s)) == s`.

Used by `rawkit script --dry-run` to print the timeline and by the round-trip tests.
"""

from __future__ import annotations

from decimal import Decimal

from rawkit.script.nodes import (
    Anything,
    Array,
    BitOr,
    Expr,
    Field,
    IcmpPacket,
    Instant,
    Int,
    Name,
    OptionLine,
    PacketEvent,
    PythonEvent,
    Script,
    SeqRange,
    ShellEvent,
    Statement,
    String,
    Struct,
    SyscallEvent,
    TcpOption,
    TcpPacket,
    Timing,
)


def render(script: Script) -> str:
    return "".join(render_statement(statement) + "\n" for statement in script.statements)


def render_instant(instant: Instant) -> str:
    seconds = format(Decimal(instant.usecs) / 1_000_000, "f")
    if "." in seconds:
        seconds = seconds.rstrip("0").rstrip(".")
    return ("+" if instant.relative else "") + seconds


def render_timing(timing: Timing) -> str:
    if timing.start is None:
        return "*"
    text = render_instant(timing.start)
    if timing.end is not None:
        text += timing.separator + render_instant(timing.end)
    return text


def render_statement(statement: Statement) -> str:
    if isinstance(statement, OptionLine):
        return f"--{statement.name}" + ("" if statement.value is None else f"={statement.value}")
    timing = "" if statement.timing is None else render_timing(statement.timing) + " "
    if isinstance(statement, ShellEvent):
        return f"{timing}`{statement.command}`"
    if isinstance(statement, PythonEvent):
        return f"{timing}%{{{statement.code}}}%"
    if isinstance(statement, SyscallEvent):
        args = ", ".join(render_expr(arg) for arg in statement.args)
        result = statement.result
        text = f"{timing}{statement.name}({args}) = {render_expr(result.value)}"
        if result.errno is not None:
            text += f" {result.errno}"
        if result.note is not None:
            text += f" ({result.note})"
        return text
    return timing + render_packet(statement)


def render_packet(event: PacketEvent) -> str:
    parts = [event.direction]
    if event.ecn is not None:
        parts.append(f"[{event.ecn}]")
    packet = event.packet
    if isinstance(packet, IcmpPacket):
        parts += ["icmp", packet.type]
        if packet.code is not None:
            parts.append(packet.code)
        if packet.mtu is not None:
            parts.append(f"mtu {packet.mtu}")
        if packet.quoted is not None:
            parts.append(f"[{render_seq(packet.quoted)}]")
        return " ".join(parts)
    assert isinstance(packet, TcpPacket)
    parts += [packet.flags, render_seq(packet.seq)]
    for word, value in (("ack", packet.ack), ("win", packet.window), ("urg", packet.urgent)):
        if value is not None:
            parts.append(f"{word} {value}")
    if packet.options == "...":
        parts.append("<...>")
    elif packet.options is not None:
        parts.append("<" + ",".join(render_option(option) for option in packet.options) + ">")
    return " ".join(parts)


def render_seq(seq: SeqRange) -> str:
    return f"{seq.start}:{seq.end}({seq.length})"


def render_option(option: TcpOption) -> str:
    if option.kind == "TS":
        return f"TS val {option.values[0]} ecr {option.values[1]}"
    if option.kind == "sack":
        blocks = (value for value in option.values if isinstance(value, tuple))
        return "sack " + " ".join(f"{left}:{right}" for left, right in blocks)
    return " ".join([option.kind, *(str(value) for value in option.values)])


def render_expr(expr: Expr | Field) -> str:
    if isinstance(expr, Anything):
        return "..."
    if isinstance(expr, Int):
        return str(expr.value)
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, String):
        escaped = expr.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped.replace("\t", "\\t").replace("\r", "\\r").replace("\0", "\\0") + '"'
    if isinstance(expr, BitOr):
        return "|".join(render_expr(term) for term in expr.terms)
    if isinstance(expr, Array):
        return "[" + ", ".join(render_expr(item) for item in expr.items) + "]"
    if isinstance(expr, Struct):
        return "{" + ", ".join(render_expr(item) for item in expr.items) + "}"
    count = "" if expr.count is None else f"({render_expr(expr.count)})"
    return f"{expr.name}{count}={render_expr(expr.value)}"
