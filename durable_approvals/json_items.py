"""A JSON array read item by item as its bytes arrive, each item capped on its own.

The platform's list reply is an array of items that other agents wrote: one oversized or
malformed item must be that item's problem, not the whole read's (docs/internals.md,
"One item, one problem"). ``ArrayItems`` finds the items' boundaries without parsing them
(strings and nesting tracked, so brackets and commas inside values do not count), keeps
each item's bytes up to ``max_item_bytes`` and, past that, only its size and first bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEAD_BYTES = 4_096
"""Bytes of an oversized item kept, to name it (its ``id`` usually comes first)."""

# Outside strings: the bytes that change the structure. Inside: a string's body (escapes
# included, unrolled so that a long one is one C-level match).
_STRUCTURE = re.compile(rb'[\[\]{}",]')
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_BLANKS = b" \t\r\n"


class NotAnArray(ValueError):
    """The reply is not a JSON array (its first byte), or it ended before its ``]``."""


@dataclass(frozen=True)
class Oversized:
    """An item longer than the cap: its size and first ``HEAD_BYTES`` bytes."""

    size: int
    head: bytes


class ArrayItems:
    """Feed it the reply's chunks; ``take()`` returns the items complete so far, each the
    item's bytes (blanks stripped, not parsed) or ``Oversized``."""

    def __init__(self, max_item_bytes: int) -> None:
        self._max = max_item_bytes
        self._started = False
        self._done = False
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._buffer = bytearray()
        self._head = bytearray()
        self._size = 0
        self._emitted = 0
        self._ready: list[bytes | Oversized] = []

    @property
    def done(self) -> bool:
        """Whether the array's closing ``]`` was read (what follows it is ignored)."""
        return self._done

    def take(self) -> list[bytes | Oversized]:
        """The items completed since the last call."""
        ready, self._ready = self._ready, []
        return ready

    def close(self) -> None:
        """The reply ended. Raises ``NotAnArray`` unless the array was complete."""
        if not self._done:
            raise NotAnArray("the reply ended inside the array" if self._started else "empty")

    def feed(self, chunk: bytes) -> None:
        """Read the next bytes of the reply.

        Raises:
            NotAnArray: the reply does not start with ``[``.
        """
        if self._done:
            return
        i, end = 0, len(chunk)
        if not self._started:
            while i < end and chunk[i] in _BLANKS:
                i += 1
            if i == end:
                return
            if chunk[i] != ord("["):
                raise NotAnArray("not a JSON array")
            self._started, self._depth = True, 1
            i += 1
        segment = i
        while i < end:
            if self._escape:  # the escaped byte of a string, split from its backslash
                self._escape, i = False, i + 1
                continue
            if self._in_string:
                match = _STRING_BODY.match(chunk, i)
                i = match.end() if match else i
                if i < end and chunk[i] == ord("\\"):  # a backslash at the chunk's end
                    self._escape, i = True, i + 1
                elif i < end:  # the closing quote
                    self._in_string, i = False, i + 1
                continue
            found = _STRUCTURE.search(chunk, i)
            if found is None:
                break
            at, i = found.start(), found.end()
            byte = chunk[at]
            if byte == ord('"'):
                self._in_string = True
            elif byte in b"[{":
                self._depth += 1
            elif byte in b"]}":
                self._depth -= 1
                if self._depth == 0:  # the array's own "]"
                    self._append(chunk[segment:at])
                    self._finish_item(closing=True)
                    self._done = True
                    return
            elif self._depth == 1:  # a comma between two items
                self._append(chunk[segment:at])
                self._finish_item(closing=False)
                segment = i
        self._append(chunk[segment:end])

    def _append(self, data: bytes) -> None:
        self._size += len(data)
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        if self._size > self._max:
            self._buffer = bytearray()  # past the cap: only its size and head are kept
        else:
            self._buffer += data

    def _finish_item(self, *, closing: bool) -> None:
        if self._size > self._max:
            self._ready.append(Oversized(self._size, bytes(self._head)))
        else:
            item = bytes(self._buffer).strip(_BLANKS)
            if item or not closing or self._emitted:  # "[]" has no item; "[1,]" an empty one
                self._ready.append(item)
        self._emitted += 1
        self._buffer, self._head, self._size = bytearray(), bytearray(), 0


__all__ = ["HEAD_BYTES", "ArrayItems", "NotAnArray", "Oversized"]
