"""The in-order bytes a connection holds for its reader, kept as the chunks they arrived in.

Why not one bytearray: appending a segment to a bytearray that a read has just emptied makes
CPython shrink it to the exact size and then regrow it 12.5% at a time, copying it each time
(and a front deletion leaves an offset that makes the next growth copy everything again): in a bulk
receive that cost more than all the header processing of the segment. Here an arriving payload is
kept as it is (one reference, no copy) and a read joins what it takes once. Tiny payloads are merged
into a short last chunk, so a peer sending 1-byte segments cannot make each buffered byte cost an
object (the buffer's limit counts payload bytes only).
"""

from __future__ import annotations

from collections import deque

Buffer = bytes | bytearray | memoryview
SMALL = 512            # a payload shorter than this joins a last chunk shorter than MERGED
MERGED = 2048


class ReceiveBuffer:
    """A FIFO of bytes: `append` at the back, `read`/`peek` from the front; len() is the byte count."""

    __slots__ = ("_chunks", "_size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: Buffer) -> None:
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        chunks = self._chunks
        if len(data) < SMALL and chunks and len(chunks[-1]) < MERGED:
            chunks[-1] += data
        else:
            chunks.append(data)
        self._size += len(data)

    def extend(self, chunks: list[bytes]) -> int:
        """Append several bytes objects (a run of segments); returns how many bytes they held."""
        length = sum(map(len, chunks))
        if length < SMALL * len(chunks):             # mostly tiny pieces: kept as one
            self.append(b"".join(chunks))
        else:
            self._chunks.extend(chunks)
            self._size += length
        return length

    def read(self, max_bytes: int) -> bytes:
        """Take up to `max_bytes` from the front."""
        chunks = self._chunks
        if max_bytes >= self._size:                 # the usual bulk read: everything
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._size = 0
            return data
        if max_bytes <= 0:
            return b""
        parts, need = [], max_bytes
        while need:
            first = chunks.popleft()
            if len(first) > need:
                parts.append(first[:need])
                chunks.appendleft(first[need:])
                break
            parts.append(first)
            need -= len(first)
        self._size -= max_bytes
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def peek(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` from the front, left in place."""
        chunks = self._chunks
        if not chunks or max_bytes <= 0:
            return b""
        if len(chunks[0]) >= max_bytes:
            return chunks[0][:max_bytes]
        if max_bytes >= self._size:
            return b"".join(chunks)
        parts, need = [], max_bytes
        for chunk in chunks:
            if len(chunk) >= need:
                parts.append(chunk[:need])
                break
            parts.append(chunk)
            need -= len(chunk)
        return b"".join(parts)
