"""MultiQC custom content: the file shapes every step writes, so sections look and parse alike.

Each function returns the text or JSON data of one `*_mqc` file; MultiQC finds them by name.
"""

from __future__ import annotations

from collections.abc import Mapping


def _yaml_scalar(value: object) -> str:
    return str(value) if isinstance(value, (int, float)) else f"'{value}'"


def table_tsv(section_id: str, section_name: str, description: str, sample: str, columns: Mapping[str, object]) -> str:
    """A one-row table section: TSV with its YAML configuration in `#` comment lines."""
    lines = [f"# id: '{section_id}'", f"# section_name: '{section_name}'", f"# description: '{description}'",
             "# plot_type: 'table'", "# pconfig:", f"#     id: '{section_id}_table'", f"#     title: '{section_name}'",
             "\t".join(["Sample", *columns]), "\t".join([sample, *map(str, columns.values())])]
    return "\n".join(lines) + "\n"


def general_stats_tsv(section_id: str, sample: str, columns: Mapping[str, tuple[Mapping[str, object], str]]) -> str:
    """Columns for the general-statistics table, in the sample's row: {column: (header config, value text)}."""
    lines = [f"# id: '{section_id}'", "# plot_type: 'generalstats'", "# pconfig:"]
    for column, (config, _) in columns.items():
        lines.append(f"#     - {column}:")
        lines += [f"#         {key}: {_yaml_scalar(value)}" for key, value in config.items()]
    lines.append("\t".join(["Sample", *columns]))
    lines.append("\t".join([sample, *(value for _, value in columns.values())]))
    return "\n".join(lines) + "\n"


def histogram_linegraph(section_id: str, section_name: str, sample: str, distribution: Mapping, *, title: str,
                        xlab: str, ylab: str, xmin: float, xmax: float, description: str | None = None) -> dict:
    """A histogram ({bins: left edges, bin_width, counts}) as a line graph over bin centres (JSON data)."""
    half = distribution["bin_width"] / 2
    section = {"id": section_id, "section_name": section_name,
               **({"description": description} if description else {}), "plot_type": "linegraph",
               "pconfig": {"id": f"{section_id}_plot", "title": title, "xlab": xlab, "ylab": ylab, "xmin": xmin,
                           "xmax": xmax},
               "data": {sample: {round(edge + half, 3): count
                                 for edge, count in zip(distribution["bins"], distribution["counts"])}}}
    return section
