"""Named random streams: one generator per (base seed, replication, stream name).

Streams are independent of each other and of the order they are created in, so adding a stream
changes no other, and two scenarios run with the same seed share every stream they both use
(common random numbers).
"""

from __future__ import annotations

import zlib
from typing import TypeAlias, cast

import numpy as np

__all__ = ["Row", "UniformRows", "Uniforms", "detached", "stream", "writable_copy"]

# A row of uniforms: a view of float64s (indexing gives a Python float).
Row: TypeAlias = "memoryview[float]"


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` in ``replication`` under base ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(replication, key))
    return np.random.Generator(np.random.PCG64(seq))


class Uniforms:
    """Uniform(0, 1) numbers from one stream, drawn in blocks to keep the hot loop cheap."""

    __slots__ = ("_block", "_buffer", "_i", "_rng")

    def __init__(self, rng: np.random.Generator, block: int = 4096):
        self._rng = rng
        self._block = block
        self._buffer: list[float] = []
        self._i = 0

    def next(self) -> float:
        """The next uniform of the stream."""
        if self._i >= len(self._buffer):
            self._buffer = self._rng.random(self._block).tolist()
            self._i = 0
        u = self._buffer[self._i]
        self._i += 1
        return u


class UniformRows:
    """Rows of ``width`` uniforms from one stream: the random numbers one case carries."""

    __slots__ = ("_block", "_buffer", "_i", "_rng", "width")

    def __init__(self, rng: np.random.Generator, width: int, block: int = 1024):
        self._rng = rng
        self.width = width
        self._block = block
        self._buffer: Row = memoryview(b"").cast("d")
        self._i = 0

    def next(self) -> Row:
        """The next row of ``width`` uniforms, read-only, which the caller may keep.

        A view into a block, not a list: a case reads a few of its uniforms, and turning every
        one into a Python float (``tolist``) cost more than the model's use of them. A view
        keeps its whole block alive: what may outlive the cases around it (a petitioner) keeps
        a :func:`detached` copy instead.
        """
        i = self._i
        if i >= len(self._buffer):
            block = self._rng.random(self._block * self.width)
            self._buffer = cast(Row, block.data.toreadonly())  # typeshed: .data is of ints
            i = 0
        j = i + self.width
        self._i = j
        return self._buffer[i:j]


def writable_copy(row: Row) -> Row:
    """A case's own copy of ``row``, for the rare step that replaces some of its numbers."""
    return memoryview(bytearray(row)).cast("d")


def detached(row: Row) -> Row:
    """A read-only copy of ``row`` that keeps no block alive (192 bytes, not 192 KiB)."""
    return memoryview(bytes(row)).cast("d")
