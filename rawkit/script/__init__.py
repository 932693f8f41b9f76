"""packetdrill scripts: parse `.pkt` text into a typed timeline (`Script`), render it back.

The runner (issue 9) walks `Script.events`; this package only reads and writes the language.
"""

from rawkit.script.errors import ScriptSyntaxError
from rawkit.script.parser import parse, parse_file
from rawkit.script.render import render

__all__ = ["ScriptSyntaxError", "parse", "parse_file", "render"]
