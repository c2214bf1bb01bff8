"""MultiQC custom content: the file shapes every step writes, so sections look and parse alike.

Each function returns the text or JSON data of one `*_mqc` file; MultiQC finds them by name.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence


# Report modules that gather one HTML section per dataset or model: (module id, module name).
PREPARE_SECTION = ("enhancerlm_prepare", "enhancerlm: data preparation")
BENCHMARK_SECTION = ("enhancerlm_benchmark", "enhancerlm: benchmark")
MOTIFS_SECTION = ("enhancerlm_motifs", "enhancerlm: motifs")
VARIANT_TOP_SECTION = ("enhancerlm_variant_top", "enhancerlm: strongest variant effects")


def _yaml_scalar(value: object) -> str:
    return str(value) if isinstance(value, (int, float)) else "'" + str(value).replace("'", "''") + "'"


def html_section(parent: tuple[str, str], section_id: str, section_name: str, description: str, body: str) -> str:
    """An HTML section inside a report module shared by every file of its kind (one per dataset or model), so
    that `assets/multiqc_config.yml` can place the module."""
    parent_id, parent_name = parent
    config = {"parent_id": parent_id, "parent_name": parent_name, "id": section_id, "section_name": section_name,
              "description": description}
    return "<!--\n" + "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in config.items()) + "-->\n" + body


def html_table(css_class: str, header: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "") -> str:
    """A report table; header and cells are escaped (cells already HTML are passed as `Markup`)."""
    def cell(value: object) -> str:
        return str(value) if isinstance(value, Markup) else html.escape(str(value))

    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="{len(header)}">{html.escape(empty)}</td></tr>'
    return (f'<table class="table table-condensed mqc_table {css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>\n")


class Markup(str):
    """Text that is already HTML (an image, a link) and goes into a table cell unescaped."""


def table_tsv(section_id: str, section_name: str, description: str, sample: str, columns: Mapping[str, object]) -> str:
    """A one-row table section: TSV with its YAML configuration in `#` comment lines."""
    lines = [f"# id: {_yaml_scalar(section_id)}", f"# section_name: {_yaml_scalar(section_name)}",
             f"# description: {_yaml_scalar(description)}", "# plot_type: 'table'", "# pconfig:",
             f"#     id: {_yaml_scalar(section_id + '_table')}", f"#     title: {_yaml_scalar(section_name)}",
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
