"""HPACK decoding (RFC 7541) of the daemon's response headers and trailers, for `_wire`.

Why not `hpack.Decoder`: importing the `hpack` package costs ~2 ms of a warm `init()`'s 20 ms, nearly all of
it its Huffman tables, and grpc-core sends gRPC's headers without Huffman coding. The rest of HPACK is small: the
static table, the dynamic table with its size accounting, integers and string literals. A Huffman-coded string
(allowed, just not what grpc-core sends) is decoded with `hpack`'s own table, imported then.
`tests/test_wire.py` checks this decoder against `hpack.Encoder` with and without Huffman coding.
"""

from __future__ import annotations

from collections import deque

STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
    ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
    ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
    ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
    ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
    ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
    ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
)  # fmt: skip
DEFAULT_TABLE_SIZE = 4096  # SETTINGS_HEADER_TABLE_SIZE, which the client leaves at its default
_ENTRY_OVERHEAD = 32


class HPACKError(Exception):
    """A header block that is not valid HPACK: the connection cannot be used any more."""


class Decoder:
    """Decodes the header blocks of one connection, in order (the dynamic table is shared by all of them)."""

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self._limit = max_table_size  # what our SETTINGS allow the encoder
        self._max = max_table_size  # what the encoder last asked for
        self._size = 0
        self._dynamic: deque[tuple[str, str]] = deque()

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        pos, end = 0, len(block)
        while pos < end:
            b = block[pos]
            if b & 0x80:  # indexed header field
                index, pos = _integer(block, pos, 7)
                headers.append(self._entry(index))
            elif b & 0x40:  # literal with incremental indexing
                name, value, pos = self._literal(block, pos, 6)
                headers.append((name, value))
                self._add(name, value)
            elif b & 0x20:  # dynamic table size update
                size, pos = _integer(block, pos, 5)
                if size > self._limit:
                    raise HPACKError(f"table size {size} above the allowed {self._limit}")
                self._max = size
                self._evict()
            else:  # literal without indexing (0000) or never indexed (0001)
                name, value, pos = self._literal(block, pos, 4)
                headers.append((name, value))
        return headers

    def _literal(self, block: bytes, pos: int, prefix: int) -> tuple[str, str, int]:
        index, pos = _integer(block, pos, prefix)
        if index:
            name = self._entry(index)[0]
        else:
            name, pos = _string(block, pos)
        value, pos = _string(block, pos)
        return name, value, pos

    def _entry(self, index: int) -> tuple[str, str]:
        if 0 < index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        dyn = index - len(STATIC_TABLE) - 1
        if 0 <= dyn < len(self._dynamic):
            return self._dynamic[dyn]
        raise HPACKError(f"header index {index} is in neither table")

    def _add(self, name: str, value: str) -> None:
        size = len(name.encode()) + len(value.encode()) + _ENTRY_OVERHEAD
        if size > self._max:  # RFC 7541 4.4: an entry larger than the table empties it and is not added
            self._dynamic.clear()
            self._size = 0
            return
        self._dynamic.appendleft((name, value))
        self._size += size
        self._evict()

    def _evict(self) -> None:
        while self._size > self._max and self._dynamic:
            name, value = self._dynamic.pop()
            self._size -= len(name.encode()) + len(value.encode()) + _ENTRY_OVERHEAD


def _integer(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    if pos >= len(block):
        raise HPACKError("header block ends inside an integer")
    mask = (1 << prefix) - 1
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        if pos >= len(block) or shift > 28:
            raise HPACKError("bad HPACK integer")
        b = block[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _string(block: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(block):
        raise HPACKError("header block ends before a string")
    huffman = block[pos] & 0x80
    length, pos = _integer(block, pos, 7)
    if pos + length > len(block):
        raise HPACKError("header string runs past the block")
    raw = bytes(block[pos : pos + length])
    if huffman:
        from hpack.huffman_table import decode_huffman  # ~2 ms, and only if a peer uses Huffman coding

        try:
            raw = decode_huffman(raw)
        except Exception as exc:
            raise HPACKError(f"bad Huffman string: {exc}") from None
    return raw.decode("utf-8", "replace"), pos + length
