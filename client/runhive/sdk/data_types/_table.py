"""`Table` (W&B's `wandb.Table`): rows of values, media included, logged as a `.table.json` file.

Logging a table writes `{"columns": [...], "data": [[...], ...]}` (W&B's table file; media cells as their JSON
references, numpy values as lists and numbers) into the run's media directory, content-addressed, and the history
row keeps `{"_type": "table-file", "path", "sha256", "size", "ncols", "nrows", "log_mode"}`. `Table.from_json()`
reads a table back from that reference (or from W&B's inline artifact form, `{"columns", "data"}`).

Column types are checked as W&B does, in a simpler form: each column takes the kind of its first non-None value
(number, bool, str, list, dict, timestamp, or the media class) and a row of another kind is a TypeError, unless
`allow_mixed_types=True`; `optional=False` refuses None.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ._base import Media, WBValue, _describe, _StoredFile, _torch_to_numpy, _warn_once

_LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")
_ANY = "any"


# Column kinds ---------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str | None:
    """The kind a column of `value` has (None for None: allowed in an optional column of any kind)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, WBValue):
        return type(value).__name__
    if isinstance(value, (datetime.datetime, datetime.date)):
        return "timestamp"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.bool_):
            return "bool"
        if isinstance(value, np.number):
            return "number"
        if isinstance(value, np.str_):
            return "str"
        if isinstance(value, np.ndarray):
            return "list"
        if isinstance(value, np.datetime64):
            return "timestamp"
    if _torch_to_numpy(value) is not None:
        return "list"
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def _dtype_kind(dtype: Any) -> str:
    """The kind a `dtype=` entry names: a Python type, a WBValue class, or an example value."""
    if dtype is None:
        return _ANY
    if isinstance(dtype, type):
        if issubclass(dtype, bool):
            return "bool"
        if issubclass(dtype, (int, float)):
            return "number"
        if issubclass(dtype, str):
            return "str"
        if issubclass(dtype, (list, tuple)):
            return "list"
        if issubclass(dtype, dict):
            return "dict"
        if issubclass(dtype, (datetime.datetime, datetime.date)):
            return "timestamp"
        if issubclass(dtype, WBValue):
            return dtype.__name__
        np = sys.modules.get("numpy")
        if np is not None:
            if issubclass(dtype, np.bool_):
                return "bool"
            if issubclass(dtype, np.number):
                return "number"
            if issubclass(dtype, np.ndarray):
                return "list"
        return f"{dtype.__module__}.{dtype.__qualname__}"
    return _kind(dtype) or _ANY


# Cells as JSON ----------------------------------------------------------------------------------------------------


def _cell_json(value: Any, depth: int = 0) -> Any:
    """A cell as W&B writes it into a table file: media as their reference, arrays as lists, numpy scalars as
    Python numbers, dates as milliseconds since the epoch (UTC)."""
    if value is None or type(value) in (int, float, str, bool):
        return value
    if depth > 100:
        raise ValueError("runhive.Table: a cell is nested more than 100 levels deep (or circular).")
    if isinstance(value, WBValue):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): _cell_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cell_json(v, depth + 1) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, datetime.date):
        return int(
            datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc).timestamp()
            * 1000
        )
    arr = _torch_to_numpy(value)
    if arr is not None:
        value = arr
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.datetime64):
            return int(value.astype("datetime64[ms]").astype("int64"))
        if isinstance(value, (np.ndarray, np.generic)):
            return _cell_json(value.tolist(), depth + 1)
    from runhive.sdk._values import convert

    return convert(value)


# Table --------------------------------------------------------------------------------------------------------------


class _TableIndex(int):
    """A row index of a table (W&B's `_TableIndex`), from `get_index()`, `iterrows()` and `index_ref()`."""

    _table: Table | None = None

    def set_table(self, table: Table) -> None:
        self._table = table

    def get_row(self) -> dict[Any, Any]:
        if self._table is None:
            raise ValueError("this index belongs to no table")
        return dict(zip(self._table.columns, self._table.data[int(self)], strict=True))


class Table(Media):
    """A table of values, media included (W&B's `wandb.Table`).

    `columns` (default `["Input", "Output", "Expected"]`, as W&B) and `data` (a list of rows, a 2-D numpy array or
    a pandas DataFrame); `rows=` is W&B's older name for `data`, and `dataframe=` takes a DataFrame's columns too.
    """

    MAX_ROWS = 10000
    MAX_ARTIFACT_ROWS = 200000
    _log_type = "table"

    def __init__(
        self,
        columns: list[Any] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: bool | list[bool] = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = "IMMUTABLE",
    ) -> None:
        if log_mode not in _LOG_MODES:
            raise ValueError(f"Invalid log_mode: {log_mode}. Must be one of {list(_LOG_MODES)}")
        self.log_mode = log_mode
        self._allow_mixed = bool(allow_mixed_types)
        self._logged: dict[str, Any] | None = None  # the reference of the last log (IMMUTABLE: the one kept)
        self._logged_rows = 0  # INCREMENTAL: rows already in earlier increments
        self._increment_num: int | None = None
        self._previous_increments_paths: list[str] = []
        self.data: list[list[Any]] = []
        self.columns: list[Any] = []
        self._kinds: dict[Any, str | None] = {}
        self._optional: dict[Any, bool] = {}
        if dataframe is not None or _is_dataframe(data):
            frame = dataframe if dataframe is not None else data
            columns = list(frame.columns)
            values = [frame[c].values for c in columns]
            rows_in: Any = [[v[i] for v in values] for i in range(len(frame))]
        else:
            if columns is None:
                columns = ["Input", "Output", "Expected"]
            rows_in = data if data is not None else rows
        if not isinstance(columns, list):
            raise TypeError(f"runhive.Table: columns must be a list of str or int, got {_describe(columns)}.")
        for c in columns:
            if type(c) not in (str, int):
                raise TypeError(f"runhive.Table: columns must be a list of str or int, got {c!r}.")
        if len(set(columns)) != len(columns):
            raise ValueError(f"runhive.Table: column names must be unique, got {columns!r}.")
        self.columns = list(columns)
        dtypes = dtype if isinstance(dtype, list) else [dtype] * len(self.columns)
        optionals = optional if isinstance(optional, list) else [optional] * len(self.columns)
        if len(dtypes) != len(self.columns) or len(optionals) != len(self.columns):
            raise ValueError(
                f"runhive.Table: dtype and optional lists need one entry per column ({len(self.columns)})."
            )
        for c, dt, opt in zip(self.columns, dtypes, optionals, strict=True):
            self._kinds[c] = None if dt is None else _dtype_kind(dt)  # None: the first value decides
            self._optional[c] = bool(opt)
        if rows_in is not None:
            np = sys.modules.get("numpy")
            if np is not None and isinstance(rows_in, np.ndarray):
                if rows_in.ndim != 2:
                    raise ValueError(
                        f"runhive.Table: data must be 2-D (rows x columns), got a {_describe(rows_in)}."
                    )
            elif not isinstance(rows_in, (list, tuple)):
                raise TypeError(
                    "runhive.Table: data must be a list of rows, a 2-D numpy array or a pandas DataFrame; got "
                    f"{_describe(rows_in)}."
                )
            for row in rows_in:
                self._append(list(row))

    # Rows and columns -----------------------------------------------------------------------------------------

    @property
    def ncols(self) -> int:
        return len(self.columns)

    @property
    def nrows(self) -> int:
        return len(self.data)

    def _check(self, column: Any, value: Any) -> str | None:
        """The column's kind once `value` is in it; TypeError when `value` does not fit."""
        current = self._kinds[column]
        if value is None:
            if not self._optional[column]:
                raise TypeError(
                    f"Data row contained incompatible types: column {column!r} is not optional and got None."
                )
            return current
        if self._allow_mixed or current == _ANY:
            return current
        kind = _kind(value)
        if current is None or kind == current:
            return kind
        raise TypeError(
            f"Data row contained incompatible types: column {column!r} holds {current} values, got "
            f"{_describe(value)} ({kind}). Pass allow_mixed_types=True to allow mixed columns."
        )

    def _append(self, row: list[Any]) -> None:
        if len(row) != len(self.columns):
            raise ValueError(
                f"This table expects {len(self.columns)} columns: {self.columns}, found {len(row)}"
            )
        kinds = {c: self._check(c, v) for c, v in zip(self.columns, row, strict=True)}
        self._kinds.update(kinds)
        self.data.append(row)

    def _mutating(self) -> None:
        if self.log_mode == "IMMUTABLE" and self._logged is not None:
            _warn_once(
                "table-immutable",
                "You are mutating a Table with log_mode='IMMUTABLE' that has been logged already. Subsequent "
                "log() calls will have no effect. Set log_mode='MUTABLE' to enable re-logging after mutations",
            )

    def _not_incremental(self, what: str) -> None:
        if self.log_mode == "INCREMENTAL":
            from runhive.errors import Error

            raise Error(
                f"Operation '{what}' is not supported for tables with log_mode='INCREMENTAL'. Use a different "
                "log mode like 'MUTABLE' or 'IMMUTABLE'."
            )

    def add_data(self, *data: Any) -> None:
        """Add a row (one value per column)."""
        self._mutating()
        self._append(list(data))

    def add_row(self, *row: Any) -> None:
        """W&B's deprecated name for `add_data`."""
        _warn_once("add_row", "add_row is deprecated, use add_data")
        self.add_data(*row)

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Add a column; `data` (a list or a numpy array) has one value per row."""
        self._not_incremental("add_column")
        self._mutating()
        if not isinstance(name, str) or name in self.columns:
            raise ValueError(f"runhive.Table.add_column: name must be a new str column name, got {name!r}.")
        np = sys.modules.get("numpy")
        if not isinstance(data, list) and not (np is not None and isinstance(data, np.ndarray)):
            raise TypeError(
                f"runhive.Table.add_column: data must be a list or a numpy array, got {_describe(data)}."
            )
        if self.columns and len(data) != len(self.data):
            raise ValueError(f"Expected length {len(self.data)}, found {len(data)}")
        self._kinds[name], self._optional[name] = None, bool(optional)
        try:
            for value in data:
                self._kinds[name] = self._check(name, value)
        except TypeError:
            del self._kinds[name], self._optional[name]
            raise
        if not self.columns:
            self.data = [[] for _ in range(len(data))]
        for row, value in zip(self.data, data, strict=True):
            row.append(value)
        self.columns.append(name)

    def get_column(self, name: Any, convert_to: str | None = None) -> Any:
        """The column's values, as a list, or a numpy array with `convert_to="numpy"`."""
        if name not in self.columns:
            raise KeyError(f"runhive.Table has no column {name!r}; its columns are {self.columns}.")
        if convert_to not in (None, "numpy"):
            raise ValueError(f'convert_to must be None or "numpy", got {convert_to!r}.')
        ndx = self.columns.index(name)
        column = [row[ndx] for row in self.data]
        if convert_to == "numpy":
            import numpy

            column = [v.to_data_array() if hasattr(v, "to_data_array") else v for v in column]
            return numpy.array(column)
        return column

    def get_index(self) -> list[_TableIndex]:
        """One index per row, for linking tables (W&B's `get_index`)."""
        return [self.index_ref(i) for i in range(len(self.data))]

    def index_ref(self, index: int) -> _TableIndex:
        if not 0 <= index < len(self.data):
            raise IndexError(f"runhive.Table has {len(self.data)} rows; no row {index}.")
        ref = _TableIndex(index)
        ref.set_table(self)
        return ref

    def iterrows(self) -> Iterator[tuple[_TableIndex, list[Any]]]:
        for ndx, row in enumerate(self.data):
            yield self.index_ref(ndx), row

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("Converting to pandas.DataFrame requires installing pandas") from e
        return pandas.DataFrame.from_records(self.data, columns=self.columns)

    def cast(self, col_name: Any, dtype: Any, optional: bool = False) -> None:
        """Fix a column's type (`dtype` as in the constructor); TypeError when its values do not fit."""
        if col_name not in self.columns:
            raise KeyError(f"runhive.Table has no column {col_name!r}; its columns are {self.columns}.")
        saved = self._kinds[col_name], self._optional[col_name]
        self._kinds[col_name], self._optional[col_name] = _dtype_kind(dtype), bool(optional)
        try:
            for value in self.get_column(col_name):
                self._check(col_name, value)
        except TypeError:
            self._kinds[col_name], self._optional[col_name] = saved
            raise

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and self.columns == other.columns and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<runhive Table {len(self.data)} rows x {len(self.columns)} columns>"

    # Logging --------------------------------------------------------------------------------------------------

    def _table_json(self, rows: Sequence[list[Any]]) -> dict[str, Any]:
        return {"columns": list(self.columns), "data": [[_cell_json(v) for v in row] for row in rows]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        logged = self._logged
        if logged is not None and not os.path.isfile(logged["path"]):
            # Unpickled where its file is not (another node): the next log writes the file here.
            self._logged = None
            self._logged_rows, self._increment_num, self._previous_increments_paths = 0, None, []

    def has_been_logged(self) -> bool:
        return self._logged is not None

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        """Write the table file and return its reference (W&B's `table-file`). An IMMUTABLE table (the
        default) is written once: later logs point at that first file, as in W&B; MUTABLE writes what it holds
        now; INCREMENTAL writes the rows added since its last log."""
        if self.log_mode == "IMMUTABLE" and self._logged is not None:
            return dict(self._logged)
        start = self._logged_rows if self.log_mode == "INCREMENTAL" else 0
        rows = self.data[start:]
        if len(rows) > self.MAX_ARTIFACT_ROWS:
            _warn_once("table-rows", f"Truncating runhive.Table object to {self.MAX_ARTIFACT_ROWS} rows.")
            rows = rows[: self.MAX_ARTIFACT_ROWS]
        text = json.dumps(self._table_json(rows), separators=(",", ":"), ensure_ascii=False)  # W&B's bytes
        stored = _StoredFile.from_bytes(text.encode("utf-8"), "table", "table.json")
        out: dict[str, Any] = {"_type": "table-file", **stored.json(), "ncols": len(self.columns)}
        out["nrows"] = len(rows)
        out["log_mode"] = self.log_mode
        if self.log_mode == "INCREMENTAL":
            self._increment_num = 0 if self._increment_num is None else self._increment_num + 1
            out["_type"] = "incremental-table-file"
            out["increment_num"] = self._increment_num
            out["previous_increments_paths"] = list(self._previous_increments_paths)
            self._previous_increments_paths.append(stored.path)
            self._logged_rows = start + len(rows)
        self._logged = out
        return dict(out)

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any = None) -> Table:
        """A table from its logged reference (`{"_type": "table-file", "path": ...}`, the file read; for an
        incremental table, its earlier increments too) or from W&B's inline form `{"columns", "data"}`.
        Media cells stay their JSON references."""
        if "data" in json_obj and "columns" in json_obj:
            return cls(columns=list(json_obj["columns"]), data=json_obj["data"], allow_mixed_types=True)
        paths = [*json_obj.get("previous_increments_paths", []), json_obj["path"]]
        columns: list[Any] | None = None
        data: list[Any] = []
        for path in paths:
            if (
                not os.path.isabs(path)
                and source_artifact is not None
                and hasattr(source_artifact, "get_path")
            ):
                path = source_artifact.get_path(path).download()
            with open(path, encoding="utf-8") as f:
                part = json.load(f)
            columns = part["columns"] if columns is None else columns
            data.extend(part["data"])
        return cls(columns=columns, data=data, allow_mixed_types=True)


def _is_dataframe(value: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)
