"""MultiQC custom content: tables, general statistics, line graphs and HTML sections, as plain values."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
    config = {
        "parent_id": parent_id,
        "parent_name": parent_name,
        "id": section_id,
        "section_name": section_name,
        "description": description,
    }
    return "<!--\n" + "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in config.items()) + "-->\n" + body


def html_table(css_class: str, header: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "") -> str:
    """A report table; header and cells are escaped (cells already HTML are passed as `Markup`)."""

    def cell(value: object) -> str:
        return str(value) if isinstance(value, Markup) else html.escape(str(value))

    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="{len(header)}">{html.escape(empty)}</td></tr>'
    return (
        f'<table class="table table-condensed mqc_table {css_class}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>\n"
    )


class Markup(str):
    """Text that is already HTML (an image, a link) and goes into a table cell unescaped."""


def table_tsv(section_id: str, section_name: str, description: str, sample: str, columns: Mapping[str, object]) -> str:
    """A one-row table section: TSV with its YAML configuration in `#` comment lines."""
    lines = [
        f"# id: {_yaml_scalar(section_id)}",
        f"# section_name: {_yaml_scalar(section_name)}",
        f"# description: {_yaml_scalar(description)}",
        "# plot_type: 'table'",
        "# pconfig:",
        f"#     id: {_yaml_scalar(section_id + '_table')}",
        f"#     title: {_yaml_scalar(section_name)}",
        "\t".join(["Sample", *columns]),
        "\t".join([sample, *("" if value is None else str(value) for value in columns.values())]),
    ]
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


def histogram_linegraph(
    section_id: str,
    section_name: str,
    series: Mapping[str, Mapping],
    *,
    title: str,
    xlab: str,
    ylab: str,
    xmin: float,
    xmax: float,
    description: str | None = None,
    percent: bool = False,
) -> dict:
    """Histograms ({bins: left edges, bin_width, counts}), one line per series name, over bin centres (JSON data);
    with `percent` each line is its counts as a percentage of its total, so samples of different sizes compare."""
    data = {}
    for name, distribution in series.items():
        half, counts = distribution["bin_width"] / 2, distribution["counts"]
        scale = 100 / sum(counts) if percent and sum(counts) else None
        data[name] = {
            round(edge + half, 3): round(count * scale, 3) if scale else count
            for edge, count in zip(distribution["bins"], counts)
        }
    return {
        "id": section_id,
        "section_name": section_name,
        **({"description": description} if description else {}),
        "plot_type": "linegraph",
        "pconfig": {"id": f"{section_id}_plot", "title": title, "xlab": xlab, "ylab": ylab, "xmin": xmin, "xmax": xmax},
        "data": data,
    }


def multiqc_prepare(report: dict[str, Any]) -> str:
    """MultiQC custom content: records per split and class, what QC set aside, and the warnings (train/test
    leakage first) as a highlighted box."""
    counts = [
        [split, label, n, report["gc"][split][label]["median"]]
        for split, classes in report["counts"].items()
        for label, n in classes.items()
    ]
    within = report["duplicates"]["within_split"]
    checks = [
        ["rejected (left out)", len(report["rejected"])],
        ["over the N limit (kept)", len(report["n_rich"])],
        ["repeated ids renamed", len(report["renamed_ids"])],
        *[[f"duplicates within {split}", stats["records"]] for split, stats in within.items()],
        *_leak_rows(report["duplicates"]),
    ]
    warnings = "".join(f"<li>{html.escape(line)}</li>" for line in report["warnings"])
    box = f'<div class="alert alert-warning"><ul>{warnings}</ul></div>\n' if warnings else ""
    body = (
        box
        + html_table("enhancerlm-prepare", ["split", "class", "records", "median GC"], counts)
        + html_table("enhancerlm-prepare-qc", ["check", "records"], checks)
    )
    name = report["dataset"]
    return html_section(
        PREPARE_SECTION,
        f"enhancerlm_prepare_{name}",
        f"Data preparation: {name}",
        "Records kept per split and class, and what quality control found.",
        body,
    )


def _leak_rows(duplicates: dict[str, Any]) -> list[list]:
    """Test records that copy or nearly copy a training record, per class, and the near-copy pairs within train."""
    rows = []
    for name, stats in duplicates["train_test"]["per_class"].items():
        rows.append(
            [f"test {name} records copying a training record", stats["identical"] + stats["reverse_complement"]]
        )
        rows.append([f"test {name} records nearly copying one", stats["near_duplicate"]])
    near = duplicates["near_duplicates"]
    rows.append(["near-copy pairs within train (kept in one fold)", near.get("train_pairs", "check off")])
    return rows


GENERAL_STATS_COLUMNS = {
    "Acc": ("accuracy", "Accuracy on the evaluated split"),
    "Sn": ("sensitivity", "Sensitivity (recall of enhancers)"),
    "Sp": ("specificity", "Specificity"),
    "MCC": ("mcc", "Matthews correlation coefficient"),
    "AUC": ("auc", "Area under the ROC curve"),
    "AUPRC": ("auprc", "Area under the precision-recall curve (average precision)"),
}


def general_stats_mqc(model_id: str, report: dict) -> str:
    """MultiQC general-statistics custom content: one row for this model, whole split."""
    columns = {}
    for column, (key, description) in GENERAL_STATS_COLUMNS.items():
        value = report["all"][key]
        config = {
            "title": column,
            "description": description,
            "min": -1 if column == "MCC" else 0,
            "max": 1,
            "format": "{:,.3f}",
        }
        columns[column] = (config, "" if value is None else f"{value:.4f}")
    return general_stats_tsv("enhancerlm_metrics", model_id, columns)


def confusion_mqc(model_id: str, report: dict) -> str:
    """MultiQC custom content: the model's confusion matrix at its threshold, whole split and leak-free subset."""
    columns = {}
    for subset, label in (("all", ""), ("leak_free", "Leak-free ")):
        counts = report[subset]["confusion_matrix"]
        columns.update({f"{label}{name.upper()}": counts[name] for name in ("tp", "fn", "fp", "tn")})
    columns["Threshold"] = f"{report['all']['threshold']:.4f}"
    return table_tsv(
        "enhancerlm_confusion",
        "enhancerlm: confusion matrices",
        "Test-split records by true and predicted class at the model's threshold (TP: enhancers called "
        "enhancers, FN: enhancers missed, FP: non-enhancers called enhancers, TN: non-enhancers "
        "rejected), on the whole split and on the records that copy no training record.",
        model_id,
        columns,
    )


def variants_table_mqc(prefix: str, report: dict) -> str:
    """MultiQC custom content: a table row of records, alleles and alleles by status."""
    statuses = report["alleles"]["by_status"]
    columns = {
        "Records": report["records"]["reported"],
        "Alleles": report["alleles"]["total"],
        **{status.replace("_", " ").capitalize(): count for status, count in statuses.items()},  # in STATUSES order
    }
    return table_tsv(
        "enhancerlm_variants",
        "enhancerlm: variant scoring",
        "VCF records and alleles, by scoring status (scored, or why not).",
        prefix,
        columns,
    )


def variants_top_mqc(prefix: str, report: dict) -> str:
    """MultiQC custom content (HTML): the alleles that raise and lower enhancer probability most, with the TF
    sites they gain and lose."""
    header = ["variant", "id", "p_ref", "p_alt", "delta", "TF sites lost", "TF sites gained"]

    def rows(top: list[dict]) -> list[list]:
        return [
            [
                f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']}",
                row["id"],
                f"{row['p_ref']:.4f}",
                f"{row['p_alt']:.4f}",
                f"{row['delta']:+.4f}",
                _site_names(row["tfbs_loss"]),
                _site_names(row["tfbs_gain"]),
            ]
            for row in top
        ]

    gains = html_table(
        "enhancerlm-variant-top", header, rows(report["top_gains"]), empty="No allele raises the probability."
    )
    losses = html_table(
        "enhancerlm-variant-top", header, rows(report["top_losses"]), empty="No allele lowers the probability."
    )
    body = f"<h4>Largest gains</h4>\n{gains}<h4>Largest losses</h4>\n{losses}"
    return html_section(
        VARIANT_TOP_SECTION,
        f"enhancerlm_variant_top_{prefix}",
        f"Strongest effects: {prefix}",
        "Alleles with the largest change in enhancer probability (delta = p_alt - p_ref), and the "
        "known TF sites (FIMO p < threshold) each one destroys or creates.",
        body,
    )


def _site_names(sites: str | None, shown: int = 5) -> str:
    """`MA0139.2:CTCF:+:1e-05|...` as `CTCF (+), ...`, the first few, with how many more."""
    if not sites or sites == ".":
        return ""
    names = [f"{':'.join(parts[1:-2])} ({parts[-2]})" for parts in (site.split(":") for site in sites.split("|"))]
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def variants_deltas_mqc(prefix: str, distribution: dict) -> dict:
    """MultiQC custom content: the distribution of delta = p_alt - p_ref as a line graph (x: bin centre)."""
    return histogram_linegraph(
        "enhancerlm_variant_deltas",
        "enhancerlm: variant effects",
        {prefix: distribution},
        description="Change in enhancer probability (p_alt - p_ref) of the scored alleles.",
        title="enhancerlm: variant effect (delta)",
        xlab="p_alt - p_ref (bin centre)",
        ylab="Alleles",
        xmin=-1,
        xmax=1,
    )
