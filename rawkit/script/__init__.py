"""packetdrill scripts: parse `.pkt` text into a typed timeline (`Script`), render it back.

The runner (issue 9) walks `Script.events`. `Peer` (rawkit.script.peer) is the Python step API:
play one TCP endpoint segment by segment against a host of a lab.
"""

from rawkit.script.errors import ScriptSyntaxError
from rawkit.script.parser import parse, parse_file
from rawkit.script.peer import ANY, Peer, PeerError, Segment, ack, data, fin, rst, syn, syn_ack
from rawkit.script.render import render

__all__ = ["ANY", "Peer", "PeerError", "ScriptSyntaxError", "Segment", "ack", "data", "fin", "parse",
           "parse_file", "render", "rst", "syn", "syn_ack"]
