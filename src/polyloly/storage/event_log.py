"""Append-only JSONL event log, one file per UTC day, and a reader that yields typed events.

The log is polyloly's source of truth: every event is appended before any handler sees
it, and a backtest replays it through the same kernel. Each line is one event encoded by
``msgspec`` with its ``type`` tag; files are named ``events-YYYY-MM-DD.jsonl`` by the UTC
day of ``ts_init`` (optionally gzip-compressed: ``.jsonl.gz``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from io import BufferedWriter
from itertools import chain
from pathlib import Path
from typing import Any, Union

import msgspec

from polyloly.domain.events import Event, event_types

__all__ = [
    "EventLogError",
    "EventLogReader",
    "EventLogWriter",
    "LogDecodeError",
    "decode_event",
    "encode_event",
]

_NS_PER_DAY = 86_400 * 1_000_000_000
_CHUNK = 1 << 16
_BUFFER_MAX = 1 << 20  # encoded bytes an append may leave unwritten before flush()
_Output = gzip.GzipFile | BufferedWriter
# Sets and dict keys in a fixed order: an event's line must not depend on the process's
# hash seed (a frozenset of strings iterates differently from one process to the next).
_ENCODER = msgspec.json.Encoder(order="deterministic")
_decoder: msgspec.json.Decoder[Any] | None = None
_decoder_types: tuple[type[Event], ...] = ()


class EventLogError(ValueError):
    """A log cannot be read: missing, unreadable or corrupt (the message names the file).

    ``path`` is the file (or the folder given), ``line`` the 1-based line when one is to
    blame.
    """

    def __init__(self, message: str, path: Path, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class LogDecodeError(EventLogError):
    """A log line could not be decoded (names the file and line)."""


def encode_event(event: Event) -> bytes:
    """Encode one event as a JSON line (without the newline)."""
    return _ENCODER.encode(event)


def _get_decoder() -> msgspec.json.Decoder[Any]:
    global _decoder, _decoder_types  # noqa: PLW0603 - rebuilt only when new event types register
    types = event_types()
    if _decoder is None or types != _decoder_types:
        _decoder = msgspec.json.Decoder(Union[types])  # noqa: UP007 - a runtime tuple of types
        _decoder_types = types
    return _decoder


def decode_event(line: bytes | str) -> Event:
    """Decode one JSON line into its registered event class."""
    event: Event = _get_decoder().decode(line)
    return event


def _day_of(ts_ns: int) -> str:
    day = dt.date(1970, 1, 1) + dt.timedelta(days=ts_ns // _NS_PER_DAY)
    return day.isoformat()


class EventLogWriter:
    """Appends events to ``<directory>/events-YYYY-MM-DD.jsonl`` (UTC day of ``ts_init``).

    Writes are buffered; :meth:`flush` makes them durable (the kernel calls it per batch).
    Before appending to a file left by an earlier run, a torn last line (a crash mid-write)
    is cut off, so the new lines never glue onto it; ``repaired`` lists such files.
    """

    def __init__(self, directory: Path | str, *, compress: bool = False, fsync: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._compress = compress
        self._fsync = fsync
        self._fh: _Output | None = None
        self._day_start = 0  # [start, end) of the open file's UTC day, ns
        self._day_end = 0
        self._buf = bytearray()  # encoded lines not yet handed to the file
        self.count = 0
        self.repaired: list[Path] = []

    def path_for_day(self, day: str) -> Path:
        """Return the file that holds ``day``'s events."""
        suffix = ".jsonl.gz" if self._compress else ".jsonl"
        return self.directory / f"events-{day}{suffix}"

    def _open(self, ts_ns: int) -> None:
        """Make the file of ``ts_ns``'s UTC day the open one (after writing out the buffer)."""
        if self._fh is not None:
            self._write_buffer()
            self._fh.close()
        day = _day_of(ts_ns)
        path = self.path_for_day(day)
        if path.exists() and _repair_tail(path):
            self.repaired.append(path)
        self._fh = gzip.GzipFile(path, "ab") if self._compress else path.open("ab")
        self._day_start = ts_ns - ts_ns % _NS_PER_DAY
        self._day_end = self._day_start + _NS_PER_DAY

    def append(self, event: Event) -> None:
        """Append one event (buffered until :meth:`flush`, or until 1 MiB is pending)."""
        ts = event.ts_init
        if not self._day_start <= ts < self._day_end or self._fh is None:
            self._open(ts)
        buf = self._buf
        _ENCODER.encode_into(event, buf, -1)  # no intermediate bytes object
        buf += b"\n"
        self.count += 1
        if len(buf) >= _BUFFER_MAX:
            self._write_buffer()

    def _write_buffer(self) -> None:
        if self._buf and self._fh is not None:
            self._fh.write(self._buf)
            self._buf.clear()

    def flush(self) -> None:
        """Flush buffered lines to the OS (and to disk with ``fsync=True``).

        A compressed file is flushed with ``Z_SYNC_FLUSH``: everything written so far can
        be read back even if the process dies before :meth:`close`.
        """
        if self._fh is not None:
            self._write_buffer()
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush and close the current file."""
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> EventLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _repair_tail(path: Path) -> bool:
    """Make ``path`` safe to append to; return whether it had to be repaired.

    Plain files lose a torn last line (no trailing newline). A gzip file whose last member
    was never closed (no trailer: the writer died) is rewritten with its complete lines as
    one closed member, since a new member appended after an open one is unreadable.
    """
    if path.suffix == ".gz":
        source = _Source(path)
        torn = any(not complete for _, complete in _split_lines(source))
        if source.clean and not torn:
            return False
        tmp = path.with_name(path.name + ".tmp")
        with gzip.open(tmp, "wb") as out:  # second streaming pass: memory stays one line
            lines = _split_lines(_Source(path))
            out.writelines(line + b"\n" for line, complete in lines if complete)
        tmp.replace(path)  # atomic: a crash here leaves the old file or the new one
        return True
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("r+b") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        end = size
        while end > 0:  # scan back for the last newline, a block at a time
            start = max(0, end - _CHUNK)
            fh.seek(start)
            cut = fh.read(end - start).rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return True
            end = start
        fh.truncate(0)
    return True


class _Source:
    """A log file's bytes, chunk by chunk; ``.gz`` members are inflated one after another.

    A compressed stream cut short (the writer died before ``close``) simply ends: whatever
    was flushed inflates, and ``clean`` is False afterwards.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clean = True

    def __iter__(self) -> Iterator[bytes]:
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise EventLogError(f"{self.path}: cannot read: {reason}", self.path) from exc
        with fh:
            if self.path.suffix != ".gz":
                while chunk := fh.read(_CHUNK):
                    yield chunk
                return
            inflater = zlib.decompressobj(wbits=31)
            open_member = False
            while raw := fh.read(_CHUNK):
                while raw:
                    open_member = True
                    try:
                        data = inflater.decompress(raw)
                    except zlib.error as exc:
                        raise LogDecodeError(
                            f"{self.path}: corrupt gzip data: {exc}", self.path
                        ) from exc
                    yield data
                    if not inflater.eof:
                        break
                    open_member = False
                    raw = inflater.unused_data  # the next member (one per writer session)
                    inflater = zlib.decompressobj(wbits=31)
            # a member begun but never finished: the writer died before writing its trailer
            self.clean = not open_member


def _split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(line, complete)``; only a last fragment without a newline is incomplete."""
    rest = b""
    for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            yield line, True
    if rest:
        yield rest, False


def _lines_in(path: Path, size: int) -> int:
    """How many lines the first ``size`` bytes of ``path``'s content hold (read again)."""
    lines = 0
    for chunk in _Source(path):
        if size <= 0:
            break
        lines += chunk.count(b"\n", 0, size)
        size -= len(chunk)
    return lines


class EventLogReader:
    """Reads events back, file by file in day order, line by line in write order.

    Files are streamed (never read whole): each 64 KiB chunk's complete lines are decoded in
    one call, so a day of events costs a chunk of memory.

    Parameters
    ----------
    paths
        Log files or directories (a directory contributes every ``events-*.jsonl[.gz]``).
    strict
        Raise :class:`LogDecodeError` on a bad line (default); otherwise count and skip it.
        A torn last line (a crash mid-write: no trailing newline) is always skipped and
        counted.

    A path that does not exist raises :class:`EventLogError` at once; a file that cannot
    be opened raises it when reached.
    """

    def __init__(self, paths: Iterable[Path | str], *, strict: bool = True) -> None:
        self.files = self._expand([Path(p) for p in paths])
        self.strict = strict
        self.skipped = 0

    @staticmethod
    def _expand(paths: list[Path]) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if not path.exists():
                raise EventLogError(f"{path}: no such file or folder", path)
            if path.is_dir():
                files.extend(sorted(path.glob("events-*.jsonl*")))
            else:
                files.append(path)
        return [f for f in files if not f.name.endswith(".tmp")]

    def __iter__(self) -> Iterator[Event]:
        # One C-level iterator over the decoded blocks: no generator frame resumed per event.
        return chain.from_iterable(self.blocks())

    def blocks(self) -> Iterator[Iterable[Event]]:
        """The events in blocks, in order: a chunk's decoded lines, or a lazy line-by-line
        pass over a chunk that holds a bad (or torn last) line."""
        decoder = _get_decoder()
        for path in self.files:
            yield from self._read(path, decoder)

    def _read(self, path: Path, decoder: msgspec.json.Decoder[Any]) -> Iterator[Iterable[Event]]:
        """The blocks of one file: each chunk's complete lines decoded in one call."""
        done = 0  # bytes before the current block (its first line's number is counted only
        # when a line must be named)
        rest = b""
        for chunk in _Source(path):
            data = rest + chunk if rest else chunk
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            try:
                events: list[Event] = decoder.decode_lines(block)
            except (msgspec.DecodeError, msgspec.ValidationError):
                yield self._line_by_line(path, block, _lines_in(path, done), decoder)
            else:
                yield events
            done += cut
        if rest:  # a torn last line (no newline): kept if it decodes, else skipped
            before = _lines_in(path, done)
            yield self._line_by_line(path, rest, before, decoder, complete=False)

    def _line_by_line(
        self,
        path: Path,
        block: bytes,
        before: int,
        decoder: msgspec.json.Decoder[Any],
        *,
        complete: bool = True,
    ) -> Iterator[Event]:
        """Decode ``block``'s lines one by one, to name the bad one (or skip it).

        ``before`` is the number of lines of the file before the block.
        """
        for number, line in enumerate(block.split(b"\n"), start=before + 1):
            if not line.strip():
                continue
            try:
                event: Event = decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                if self.strict and complete:
                    raise LogDecodeError(
                        f"{path}:{number}: line {number} is not a valid event ({exc})",
                        path,
                        number,
                    ) from exc
                self.skipped += 1
                continue
            yield event
