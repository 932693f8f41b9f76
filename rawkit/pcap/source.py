"""Where readers get their bytes: a plain file mapped whole (the fast path), or a stream read in
chunks (stdin, gzip, pipes, file objects). Both look the same to a reader: a buffer plus `refill`."""

from __future__ import annotations

import mmap
import os
import stat
import sys
import zlib
from typing import BinaryIO

from rawkit.pcap.errors import CaptureError

Source = str | os.PathLike | BinaryIO
CHUNK = 1 << 16  # small enough to stay in cache, large enough to amortise a read call
_GZIP_MAGIC = b"\x1f\x8b"


class _Prepended:
    """A stream whose first bytes were already read (to sniff gzip) and must be read again."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data


class _Gunzip:
    """Decompress gzip as it is read, member after member, handing out every byte that arrived
    before damage or an early end (the gzip module withholds the last read's data then)."""

    def __init__(self, stream: BinaryIO | _Prepended) -> None:
        self._stream = stream
        self._inflater = zlib.decompressobj(wbits=31)
        self._input = b""
        self._finished = False

    def read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        have = 0
        while have < size and not self._finished:
            if not self._input:
                self._input = self._stream.read(CHUNK)
                if not self._input:
                    if self._inflater.eof:
                        self._finished = True
                    elif not chunks:
                        raise EOFError("compressed data ends before the end of the gzip stream")
                    break
            if self._inflater.eof:
                if not self._input.startswith(_GZIP_MAGIC):
                    self._finished = True  # trailing bytes after the last member: ignored, as by gzip -d
                    break
                self._inflater = zlib.decompressobj(wbits=31)
            data = self._inflater.decompress(self._input, size - have)
            self._input = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            chunks.append(data)
            have += len(data)
        return b"".join(chunks)


class Feed:
    """Bytes of a capture: `buf` holds file bytes from offset `base`; `refill` brings more.

    For a mapped file `buf` is the whole file and refill never finds more; a stream keeps only the
    unread tail plus the next chunk, so memory stays bounded by the largest record.
    """

    def __init__(self, source: Source) -> None:
        self.name = _display_name(source)
        self.base = 0
        self._delivered = 0
        self._owned: list = []
        self._stream: BinaryIO | None = None
        self._mapped: mmap.mmap | None = None
        try:
            self.buf = self._open(source)
        except CaptureError:
            self.close()
            raise
        except OSError as error:
            self.close()
            raise CaptureError(f"{self.name}: {error.strerror or error}") from error

    def _open(self, source: Source) -> bytes | mmap.mmap:
        if isinstance(source, str) and source == "-":
            return self._stream_from(sys.stdin.buffer)
        if isinstance(source, (str, os.PathLike)):
            file = open(source, "rb", buffering=0)
            self._owned.append(file)
            size = os.fstat(file.fileno()).st_size
            if stat.S_ISREG(os.fstat(file.fileno()).st_mode) and size > 0:
                if file.read(2) != _GZIP_MAGIC:
                    self._mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                    self._owned.append(self._mapped)
                    self._mapped.madvise(mmap.MADV_SEQUENTIAL)
                    return self._mapped
                file.seek(0)
            return self._stream_from(file)
        if not hasattr(source, "read"):
            raise TypeError(f"cannot read a capture from {source!r}: need a path, '-' or a binary file")
        return self._stream_from(source)

    def _stream_from(self, stream: BinaryIO) -> bytes:
        head = stream.read(2)
        if not isinstance(head, bytes):
            raise TypeError(f"{self.name}: the capture stream must be opened in binary mode")
        self._stream = _Prepended(head, stream)
        if head == _GZIP_MAGIC:
            self._stream = _Gunzip(self._stream)
        return self._read(CHUNK)

    def _read(self, size: int) -> bytes:
        try:
            data = self._stream.read(size)
        except (EOFError, zlib.error) as error:
            raise CaptureError(f"{self.name}: damaged gzip data after byte {self._delivered} "
                               f"of the uncompressed capture ({error})") from error
        except OSError as error:
            raise CaptureError(f"{self.name}: {error.strerror or error}") from error
        self._delivered += len(data)
        return data

    def refill(self, offset: int, need: int) -> int:
        """Make `buf` hold at least `need` bytes from `offset` if the input has them; return the new
        offset of those bytes in `buf` (the buffer is compacted). Short only at the end of input."""
        if self._stream is None:
            return offset
        buf = self.buf
        tail = buf[offset:]
        chunks = [tail]
        have = len(tail)
        while have < need:
            more = self._read(max(CHUNK, need - have))
            if not more:
                break
            chunks.append(more)
            have += len(more)
        self.base += offset
        self.buf = b"".join(chunks)
        return 0

    def close(self) -> None:
        self.buf = b""
        for resource in reversed(self._owned):
            resource.close()
        self._owned.clear()
        self._mapped = None
        self._stream = None


def _display_name(source: Source) -> str:
    if isinstance(source, str) and source == "-":
        return "stdin"
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"
