"""What `runhive.plot.*` return: a `CustomChart` (a table and the Vega spec that draws it) or a `Visualize`.

W&B's `run.log()` takes a chart out of the row, logs its table under `<key>_table` (W&B's `table_key`) and puts the
panel (`CustomChartSpec.config_value`) into the run's config at `_wandb.visualize.<key>`; `serialize_custom_charts`
does that rewrite. Logged as a plain value, a chart is its table's reference with the panel beside it:
`{"_type": "table-file", "path", ..., "chart": {"panel_type": "Vega2", "panelDefId": "wandb/line/v0",
"fieldSettings": {...}, "stringSettings": {...}}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runhive.errors import Error
from runhive.sdk.data_types._table import Table


@dataclass
class CustomChartSpec:
    """W&B's `CustomChartSpec`: the Vega spec id, which table columns fill its fields, and its string fields."""

    spec_name: str
    fields: dict[str, Any]
    string_fields: dict[str, Any]
    key: str = ""
    panel_type: str = "Vega2"
    split_table: bool = False

    @property
    def table_key(self) -> str:
        if not self.key:
            raise Error("Key for the custom chart spec is not set.")
        if self.split_table:
            return f"Custom Chart Tables/{self.key}_table"
        return f"{self.key}_table"

    @property
    def config_value(self) -> dict[str, Any]:
        return {
            "panel_type": self.panel_type,
            "panel_config": {
                "panelDefId": self.spec_name,
                "fieldSettings": self.fields,
                "stringSettings": self.string_fields,
                "transform": {"name": "tableWithLeafColNames"},
                "userQuery": {
                    "queryFields": [
                        {
                            "name": "runSets",
                            "args": [{"name": "runSets", "value": "${runSets}"}],
                            "fields": [
                                {"name": "id", "fields": []},
                                {"name": "name", "fields": []},
                                {"name": "_defaultColorIndex", "fields": []},
                                {
                                    "name": "summaryTable",
                                    "args": [{"name": "tableKey", "value": self.table_key}],
                                    "fields": [],
                                },
                            ],
                        }
                    ],
                },
            },
        }

    @property
    def config_key(self) -> tuple[str, str, str]:
        return ("_wandb", "visualize", self.key)

    def panel(self) -> dict[str, Any]:
        """The spec without its key: what a chart logged as a plain value keeps beside its table."""
        return {
            "panel_type": self.panel_type,
            "panelDefId": self.spec_name,
            "fieldSettings": dict(self.fields),
            "stringSettings": dict(self.string_fields),
        }


@dataclass
class CustomChart:
    """W&B's `CustomChart`: what `runhive.plot.line(...)` and the other chart helpers return."""

    table: Table
    spec: CustomChartSpec

    def set_key(self, key: str) -> None:
        self.spec.key = key

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {**self.table.to_json(run_or_artifact), "chart": self.spec.panel()}


@dataclass
class VisualizeSpec:
    name: str
    key: str = ""

    @property
    def config_value(self) -> dict[str, Any]:
        return {"id": self.name, "historyFieldSettings": {"x-axis": "_step", "key": self.key}}

    @property
    def config_key(self) -> tuple[str, str, str]:
        return ("_wandb", "viz", self.key)


@dataclass
class Visualize:
    """W&B's `Visualize`: a table drawn by a named preset (`runhive.plot.visualize(id, table)`)."""

    table: Table
    spec: VisualizeSpec = field(default_factory=lambda: VisualizeSpec(""))

    def set_key(self, key: str) -> None:
        self.spec.key = key

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {**self.table.to_json(run_or_artifact), "viz": {"id": self.spec.name}}


def plot_table(
    vega_spec_name: str,
    data_table: Table,
    fields: dict[str, Any],
    string_fields: dict[str, Any] | None = None,
    split_table: bool = False,
) -> CustomChart:
    """A custom chart: the Vega spec `vega_spec_name` drawn from `data_table` (W&B's `wandb.plot_table`)."""
    if not isinstance(data_table, Table):
        raise Error(
            f"Expected `data_table` to be `wandb.Table` type, instead got {type(data_table).__name__}"
        )
    return CustomChart(
        table=data_table,
        spec=CustomChartSpec(
            spec_name=vega_spec_name,
            fields=fields,
            string_fields=string_fields or {},
            split_table=split_table,
        ),
    )


def visualize(id: str, value: Table) -> Visualize:
    if not isinstance(value, Table):
        raise Error(f"Expected `value` to be `wandb.Table` type, instead got {type(value).__name__}")
    return Visualize(table=value, spec=VisualizeSpec(name=id))


def _pop_charts(data: dict[str, Any], prefix: str | None = None) -> dict[str, CustomChart | Visualize]:
    charts: dict[str, CustomChart | Visualize] = {}
    for k in list(data):
        v = data[k]
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, (CustomChart, Visualize)):
            charts[key] = data.pop(k)
        elif isinstance(v, dict):
            charts.update(_pop_charts(v, key))
    return charts


def serialize_custom_charts(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], dict[str, Any]]]]:
    """W&B's `Run._serialize_custom_charts`: the row with every chart (nested ones too) replaced by its table,
    under `<key>_table` for a `CustomChart` and `<key>` for a `Visualize`, and the config entries W&B adds:
    `(("_wandb", "visualize", key), panel)` / `(("_wandb", "viz", key), ...)`. The row is copied (nested dicts
    holding charts too); the caller's is left as it is."""

    def copy(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: copy(v) if isinstance(v, dict) else v for k, v in d.items()}

    row = copy(data)
    config: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for key, chart in _pop_charts(row).items():
        chart.set_key(key)
        config.append((chart.spec.config_key, chart.spec.config_value))
        if isinstance(chart, CustomChart):
            row[chart.spec.table_key] = chart.table
        else:
            row[key] = chart.table
    return row, config
