"""`rawkit read`'s flags parsed without click: click's import is a large part of the start-up of a
short filtered read (the benchmark of issue 5), and read's flags are simple.

`parse_read` understands exactly what click would accept for read with the same result (clustered
short flags, `-c5` or `-c 5`, flags after the file, `--`), and returns None for anything else:
help, an unknown or malformed flag, a missing file, a bad count. Then click parses the same words
and gives its usual answer or error, so nothing changes for a user but the time.
"""

from __future__ import annotations

from typing import Any

# short flag -> (parameter, kind): "flag" sets True, "count" adds one, "value" takes an argument
_SHORT = {"e": ("link_headers", "flag"), "A": ("ascii_only", "flag"), "S": ("absolute", "flag"),
          "q": ("quiet", "flag"), "v": ("verbose", "count"), "x": ("hex_only", "count"),
          "X": ("hex_ascii", "count"), "t": ("time_style", "count"), "n": ("numeric", "count"),
          "r": ("read_file", "value"), "c": ("limit", "value"), "w": ("write_to", "value"),
          "F": ("filter_file", "value")}
_LONG = {"--nano": "nano", "--count": "count_only", "--json": "as_json"}


def defaults() -> dict[str, Any]:
    """What each of read's parameters is when its flag is absent (as click gives them)."""
    return {"words": (), "read_file": None, "limit": None, "link_headers": False, "verbose": 0, "hex_only": 0,
            "hex_ascii": 0, "ascii_only": False, "time_style": 0, "absolute": False, "quiet": False,
            "numeric": 0, "nano": False, "count_only": False, "write_to": None, "as_json": False,
            "filter_file": None}


def parse_read(args: list[str]) -> dict[str, Any] | None:
    """read's parameters from its words, or None where click should decide."""
    options = defaults()
    words: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            words += args[index:]
            break
        if arg.startswith("--"):
            name = _LONG.get(arg)
            if name is None:
                return None
            options[name] = True
            continue
        if not arg.startswith("-") or arg == "-":
            words.append(arg)
            continue
        position = 1
        while position < len(arg):
            name, kind = _SHORT.get(arg[position], (None, None))
            position += 1
            if kind == "flag":
                options[name] = True
            elif kind == "count":
                options[name] += 1
            elif kind == "value":
                if position < len(arg):
                    value, position = arg[position:], len(arg)
                elif index < len(args):
                    value, index = args[index], index + 1
                else:
                    return None
                options[name] = value
            else:
                return None
    if options["limit"] is not None:
        try:
            options["limit"] = int(options["limit"])
        except ValueError:
            return None
        if options["limit"] < 1:
            return None
    if (not words and options["read_file"] is None) or options["time_style"] > 5:
        return None  # click reports these usage errors
    options["words"] = tuple(words)
    return options
