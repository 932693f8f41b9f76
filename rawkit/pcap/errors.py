"""The one exception the capture readers raise for bad input."""


class CaptureError(Exception):
    """A capture file that cannot be read on: bad magic, truncation, impossible lengths.

    The message is one line naming the file and the byte offset, fit to print as "rawkit: <message>".
    Readers raise it from iteration only after every packet before the damage has been delivered.
    """
