"""Record logs: rows the model appends as tuples, kept as typed columns or spooled to Parquet.

Appending a tuple to a list is the cheapest record a Python event loop can make, but a tuple of
14 boxed numbers costs about 250 bytes; a province-year makes millions of them. A
:class:`RecordLog` takes the tuples and, every ``chunk_rows`` rows, packs them into typed NumPy
columns (about 50 bytes a step) or, when it spools, writes them as one row group of a Parquet
file and forgets them, so that memory no longer grows with the length of the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pyarrow is imported when a log first spools, pandas when a table is asked
    import pandas as pd
    import pyarrow.parquet as pq

__all__ = ["CHUNK_ROWS", "RecordLog"]

CHUNK_ROWS = 1 << 16  # rows packed at a time: ~3 MB of columns, a few ms to pack


class RecordLog:
    """Rows of one kind of record (steps, cases, petitions, samples), in the order appended.

    ``fields`` names each position of the tuples and its NumPy dtype. The model appends to
    :attr:`rows` and calls :meth:`pack_if_full` now and then; :meth:`frame` gives every row as a
    DataFrame with those dtypes. With ``spool`` (a ``.parquet`` path) packed chunks are written
    there instead of kept; :meth:`frame` then reads the file back.
    """

    __slots__ = (
        "_chunks",
        "_count",
        "_writer",
        "chunk_rows",
        "dtypes",
        "fields",
        "rows",
        "spool",
    )

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        chunk_rows: int = CHUNK_ROWS,
        spool: str | Path | None = None,
    ) -> None:
        self.fields = tuple(name for name, _ in fields)
        self.dtypes = tuple(np.dtype(dtype) for _, dtype in fields)
        self.chunk_rows = chunk_rows
        self.spool = Path(spool) if spool is not None else None
        self.rows: list[tuple] = []
        self._chunks: list[dict[str, np.ndarray]] = []
        self._count = 0  # rows packed so far
        self._writer: pq.ParquetWriter | None = None

    def __len__(self) -> int:
        return self._count + len(self.rows)

    def pack_if_full(self) -> None:
        """Pack the appended tuples once a whole chunk of them has gathered (see :meth:`pack`)."""
        if len(self.rows) >= self.chunk_rows:
            self.pack()

    def pack(self) -> None:
        """Turn the appended tuples into typed columns (or a row group of the spool file)."""
        if not self.rows:
            return
        columns = self._tail_columns()
        self._count += len(self.rows)
        self.rows.clear()  # in place: the model holds this list
        if self.spool is None:
            self._chunks.append(columns)
        else:
            self._write(self.spool, columns)

    def _write(self, spool: Path, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(columns)
        writer = self._writer
        if writer is None:
            spool.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writer = pq.ParquetWriter(spool, table.schema)
        writer.write_table(table)

    def close(self) -> None:
        """When spooling: write what is left and finish the Parquet file.

        A log in memory keeps its last, partly filled chunk as tuples: :meth:`frame` converts
        them when the tables are made, as it would have to anyway.
        """
        if self.spool is not None:
            self.pack()
            if self._writer is None and self._count == 0:
                # Nothing was ever written: a file with the schema and no rows.
                self._write(self.spool, self._empty())
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _empty(self) -> dict[str, np.ndarray]:
        return {n: np.empty(0, dtype=d) for n, d in zip(self.fields, self.dtypes, strict=True)}

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every row so far, one column per field (or only ``columns``), with the log's dtypes."""
        import pandas as pd  # here: the model runs without pandas; the tables need it

        names = list(self.fields if columns is None else columns)
        if self.spool is None:
            self.pack()  # converted once, however often the tables are asked for
        elif self._writer is not None:
            raise RuntimeError(f"{self.spool} is still being written; close() the log first")
        elif self._count:
            return pd.read_parquet(self.spool, columns=names)  # close() left nothing behind
        parts = [*self._chunks, self._tail_columns()]
        return pd.DataFrame(
            {n: np.concatenate([p[n] for p in parts]) for n in names}, columns=names
        )

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Every row so far as typed columns (only ``columns``), a chunk at a time, in order.

        Without pandas, and without holding more than one chunk beyond what the log holds: the
        packed chunks in memory, or the spool file's row groups one by one (read after
        :meth:`close`), so that measures can stream over a run too long to tabulate whole.
        """
        names = list(self.fields if columns is None else columns)
        if self.spool is not None and self._writer is not None:
            raise RuntimeError(f"{self.spool} is still being written; close() the log first")
        if self.spool is not None and self._count:
            import pyarrow.parquet as pq

            with pq.ParquetFile(self.spool) as file:
                for group in range(file.num_row_groups):
                    table = file.read_row_group(group, columns=names)
                    yield {n: table.column(n).to_numpy() for n in names}
            return
        if self.spool is None:
            self.pack()
        for part in (*self._chunks, self._tail_columns()):
            if len(part[self.fields[0]]):
                yield {n: part[n] for n in names}

    def _tail_columns(self) -> dict[str, np.ndarray]:
        if not self.rows:
            return self._empty()
        # Every field is a number: all the tuples' values into one float64 block (in C, about
        # twice as fast as a structured array), then each column in its own dtype. float64 holds
        # every integer below 2**53 exactly (the logs' codes, counts and ids are far below).
        width = len(self.fields)
        if len(set(map(len, self.rows))) != 1 or len(self.rows[0]) != width:
            raise ValueError(f"rows of ({', '.join(self.fields)}) must have {width} values each")
        flat = np.fromiter(chain.from_iterable(self.rows), dtype=np.float64)
        block = flat.reshape(-1, width)
        columns = {}
        for i, (name, dtype) in enumerate(zip(self.fields, self.dtypes, strict=True)):
            values = block[:, i]
            with np.errstate(invalid="ignore"):  # NaN into integers: caught just below
                column = columns[name] = values.astype(dtype)
            if dtype.kind in "iu" and not (
                np.array_equal(column, values) and np.all(np.abs(values) < 2.0**53)
            ):
                # A fraction, NaN, a code too wide for its column or an integer that float64
                # would round: a bug in the model.
                raise ValueError(f"{name}: a value that is not an integer of {dtype}")
        return columns

    def __getstate__(self) -> dict:
        # Picklable (replications travel between worker processes) once no file is open.
        if self._writer is not None:
            raise RuntimeError(f"{self.spool} is still being written; close() the log first")
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
