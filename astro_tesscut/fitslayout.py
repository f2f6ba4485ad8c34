"""Where things are in a FITS file: each HDU's header and data, found by walking the headers.

Used to check that a downloaded file is whole before astropy reads it, and
to find an FFI cube's pixels and tables without parsing more than needed.
"""

import contextlib
import os
import re
from dataclasses import dataclass

__all__ = ["BLOCK", "FITSLayoutError", "HDULayout", "header_at", "walk"]

BLOCK = 2880
# FITS headers are printable ASCII only (the standard's section 4.1.1).
_PRINTABLE_ASCII = re.compile(rb"[\x20-\x7e]*")


class FITSLayoutError(ValueError):
    """A file is not FITS, or its HDUs do not fill it exactly."""


@dataclass(frozen=True)
class HDULayout:
    """One HDU: where its header and data start, its data size, and its raw header.

    ``cards`` maps each keyword (bytes) to its raw value text (bytes,
    comment removed); ``header`` is the header's bytes, for a full parse.
    """

    header_start: int
    data_start: int
    data_size: int
    cards: dict
    header: bytes

    @property
    def data_end(self):
        """Where the data ends, padding included: the next HDU's start."""
        return self.data_start + -(-self.data_size // BLOCK) * BLOCK

    def integer(self, keyword, default=None):
        """An integer keyword's value."""
        raw = self.cards.get(keyword.encode())
        if raw is None:
            if default is None:
                raise FITSLayoutError(f"the header of this HDU has no {keyword}")
            return default
        return int(raw)

    def string(self, keyword, default=""):
        """A string keyword's value, without quotes and trailing blanks."""
        raw = self.cards.get(keyword.encode())
        if raw is None:
            return default
        return raw.decode().strip("'").rstrip()


def walk(source, *, name, stop_after=None):
    """The HDUs of a FITS file, checking that they fill it exactly.

    Parameters
    ----------
    source : path or binary file
        The file (a file object is left open, at the position it was).
    name : str
        What to call it in errors.
    stop_after : int, optional
        Read only this many HDUs (no check of what follows).

    Returns
    -------
    list of `HDULayout`

    Raises
    ------
    FITSLayoutError
        It does not start with SIMPLE = T, a header is damaged or cut short,
        or the padded headers and data do not add up to the file's length.
    """
    with _binary(source) as file:
        size = file.seek(0, os.SEEK_END)

        def read(offset, length):
            file.seek(offset)
            return file.read(length)

        hdus = []
        offset = 0
        while offset < size and (stop_after is None or len(hdus) < stop_after):
            hdus.append(header_at(read, offset, name=name, index=len(hdus)))
            offset = hdus[-1].data_end
        if stop_after is None and offset != size:
            raise FITSLayoutError(
                f"{name} is truncated: {size} bytes, but its headers announce {offset}"
            )
        return hdus


def header_at(read, offset, *, name, index, chunk=BLOCK):
    """The HDU whose header starts at ``offset``, reading with ``read(offset, length)``.

    ``read`` may be a local file's or a remote one's; ``chunk`` is how many
    bytes to ask for at a time (a multiple of 2880), so that a header costs
    one request where it can.

    Raises
    ------
    FITSLayoutError
        The first HDU does not start with SIMPLE = T, or the header is
        damaged or cut short.
    """
    blocks = []
    position = offset
    while True:
        data = read(position, chunk)
        if index == 0 and position == offset and not re.match(rb"SIMPLE  = +T", data[:30]):
            raise FITSLayoutError(
                f"{name} is not a readable FITS file (it does not start with SIMPLE = T)"
            )
        whole = len(data) - len(data) % BLOCK  # a read may come back short: at the end, or cached
        for start in range(0, whole, BLOCK):
            block = data[start : start + BLOCK]
            if not _PRINTABLE_ASCII.fullmatch(block):
                raise FITSLayoutError(f"{name} has a damaged header in HDU {index}")
            blocks.append(block)
            if any(block[i : i + 8] == b"END     " for i in range(0, BLOCK, 80)):
                header = b"".join(blocks)
                cards = _cards(header)
                return HDULayout(
                    offset, offset + len(header), _data_size(cards, name), cards, header
                )
        if not whole:
            raise FITSLayoutError(f"{name} is truncated in the header of HDU {index}")
        position += whole


def _cards(header):
    cards = {}
    for start in range(0, len(header), 80):
        keyword = header[start : start + 8].rstrip()
        if keyword == b"END":
            break
        if header[start + 8 : start + 10] == b"= ":
            cards.setdefault(keyword, header[start + 10 : start + 80].split(b"/")[0].strip())
    return cards


def _data_size(cards, name):
    """Bytes of an HDU's data, unpadded (the FITS standard, section 4.4.1)."""
    try:
        naxis = int(cards.get(b"NAXIS", b"0"))
        if naxis == 0:
            return 0
        elements = 1
        for axis in range(1, naxis + 1):
            elements *= int(cards[b"NAXIS%d" % axis])
        bits = abs(int(cards[b"BITPIX"]))
        count = int(cards.get(b"GCOUNT", b"1"))
        heap = int(cards.get(b"PCOUNT", b"0"))
    except (KeyError, ValueError) as exc:
        raise FITSLayoutError(f"{name} has a header without a readable {exc}") from exc
    return bits // 8 * count * (heap + elements)


@contextlib.contextmanager
def _binary(source):
    if hasattr(source, "read"):  # a binary file already open (BytesIO, or a regular file)
        position = source.tell()
        yield source
        source.seek(position)
    else:
        with open(source, "rb") as file:
            yield file
