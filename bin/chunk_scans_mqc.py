#!/usr/bin/env python3
"""The genome scan of one model chunk by chunk, as a MultiQC table: which chunk scored how many windows, how
many it skipped and why, and how long it took on which device (a chunk calls no regions: the merge calls them over
the whole scan). The merged scan reports only totals; this table is where a slow or empty chunk shows.

Used by the pipeline's CHUNK_SUMMARY step (and by `enhancerlm run` the same way); it reads the
NAME.predict.json that `enhancerlm predict --chunk` writes into each chunk's directory.
"""

import json
from pathlib import Path

import click

from enhancerlm.formats.files import write_text

COLUMNS = ("Windows scored", "Skipped (N)", "Skipped (blacklist)", "Seconds", "Windows/s", "Device")


def chunk_row(report: dict) -> list:
    """One chunk's line of the table (its name first), from its predict report."""
    windows, throughput = report["windows"], report["throughput"]
    skipped = windows["skipped"]
    return [
        ",".join(report["chunks"] or ["whole genome"]),
        windows["scored"],
        skipped.get("n_fraction", 0),
        skipped.get("blacklist", 0),
        throughput["seconds"],
        throughput.get("windows_per_second") or "",
        throughput["device"],
    ]


def table_text(model_id: str, rows: list[list]) -> str:
    """MultiQC custom content: a table whose rows are `<model> <chunk>`, its configuration in `#` lines."""
    header = [
        "# id: 'enhancerlm_predict_chunks'",
        "# section_name: 'enhancerlm: genome scan by chunk'",
        "# description: 'Each chunk of the genome scan of each final model: windows scored and skipped, seconds "
        "and device.'",
        "# plot_type: 'table'",
        "# pconfig:",
        "#     id: 'enhancerlm_predict_chunks_table'",
        "#     title: 'enhancerlm: genome scan by chunk'",
        "\t".join(["Sample", *COLUMNS]),
    ]
    lines = ["\t".join([f"{model_id} {row[0]}", *map(str, row[1:])]) for row in rows]
    return "\n".join(header + lines) + "\n"


@click.command()
@click.option(
    "--input",
    "inputs",
    required=True,
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="A chunk's predict output directory; repeat for each chunk.",
)
@click.option("--model-id", required=True, help="The model whose chunks these are (the table's row names).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The *_mqc.tsv to write.")
def main(inputs: tuple[str, ...], model_id: str, output: str) -> None:
    """Collate the chunk scans of one model into a MultiQC table, in genome order of the chunks given."""
    rows = []
    for directory in map(Path, inputs):
        reports = sorted(directory.glob("*.predict.json"))
        if len(reports) != 1:
            raise click.ClickException(f"{directory}: expected one NAME.predict.json, found {len(reports)}")
        try:
            rows.append(chunk_row(json.loads(reports[0].read_text())))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise click.ClickException(f"{reports[0]}: not a predict report ({error})") from None
    write_text(output, table_text(model_id, rows))


if __name__ == "__main__":
    main()
