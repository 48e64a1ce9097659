"""Append-only JSONL event log, one file per UTC day, and a reader that yields typed events.

The log is polyloly's source of truth: every event is appended before any handler sees
it, and a backtest replays it through the same kernel. Each line is one event encoded by
``msgspec`` with its ``type`` tag; files are named ``events-YYYY-MM-DD.jsonl`` by the UTC
day of ``ts_init`` (optionally gzip-compressed: ``.jsonl.gz``).
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Union

import msgspec

from polyloly.domain.events import Event, event_types

__all__ = ["EventLogReader", "EventLogWriter", "LogDecodeError", "decode_event", "encode_event"]

_NS_PER_DAY = 86_400 * 1_000_000_000
_ENCODER = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Any] | None = None
_decoder_types: tuple[type[Event], ...] = ()


class LogDecodeError(ValueError):
    """A log line could not be decoded (names the file and line)."""


def encode_event(event: Event) -> bytes:
    """Encode one event as a JSON line (without the newline)."""
    return _ENCODER.encode(event)


def _get_decoder() -> msgspec.json.Decoder[Any]:
    global _decoder, _decoder_types  # noqa: PLW0603 - rebuilt only when new event types register
    types = event_types()
    if _decoder is None or types != _decoder_types:
        _decoder = msgspec.json.Decoder(Union[types])  # type: ignore[valid-type]  # noqa: UP007
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
    """

    def __init__(self, directory: Path | str, *, compress: bool = False, fsync: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._compress = compress
        self._fsync = fsync
        self._day: str | None = None
        self._fh: IO[bytes] | None = None
        self.count = 0

    def path_for_day(self, day: str) -> Path:
        """Return the file that holds ``day``'s events."""
        suffix = ".jsonl.gz" if self._compress else ".jsonl"
        return self.directory / f"events-{day}{suffix}"

    def _open(self, day: str) -> IO[bytes]:
        if self._fh is not None:
            self._fh.close()
        path = self.path_for_day(day)
        self._fh = gzip.open(path, "ab") if self._compress else path.open("ab")  # noqa: SIM115
        self._day = day
        return self._fh

    def append(self, event: Event) -> None:
        """Append one event (buffered)."""
        day = _day_of(event.ts_init)
        fh = self._fh if day == self._day and self._fh is not None else self._open(day)
        fh.write(_ENCODER.encode(event) + b"\n")
        self.count += 1

    def flush(self) -> None:
        """Flush buffered lines to the OS (and to disk with ``fsync=True``)."""
        if self._fh is not None:
            self._fh.flush()
            if self._fsync and not self._compress:
                import os

                os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush and close the current file."""
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None
            self._day = None

    def __enter__(self) -> EventLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventLogReader:
    """Reads events back, file by file in day order, line by line in write order.

    Parameters
    ----------
    paths
        Log files or directories (a directory contributes every ``events-*.jsonl[.gz]``).
    strict
        Raise :class:`LogDecodeError` on a bad line (default); otherwise count and skip it.
        A torn last line (a crash mid-write) is always skipped and counted.
    """

    def __init__(self, paths: Iterable[Path | str], *, strict: bool = True) -> None:
        self.files = self._expand([Path(p) for p in paths])
        self.strict = strict
        self.skipped = 0

    @staticmethod
    def _expand(paths: list[Path]) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files.extend(sorted(path.glob("events-*.jsonl*")))
            else:
                files.append(path)
        return files

    def __iter__(self) -> Iterator[Event]:
        decoder = _get_decoder()
        for path in self.files:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as fh:
                lines = fh.read().split(b"\n")
            last = len(lines) - 1
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    torn_tail = number - 1 == last
                    if self.strict and not torn_tail:
                        raise LogDecodeError(f"{path}:{number}: {exc}") from exc
                    self.skipped += 1
