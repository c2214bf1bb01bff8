"""`enhancerlm motifs` and `scan-motifs`: discover the motifs a model relies on, test them on held-out records,
match them to known motifs, and write the MEME file, tables, logos, tracks and MultiQC content."""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from enhancerlm import __version__
from enhancerlm.analysis.attribution import score_nucleotides
from enhancerlm.analysis.known_motifs import SCAN_COLUMNS, load_motifs, scan_motifs
from enhancerlm.analysis.motif_discovery import COORDINATES
from enhancerlm.analysis.motif_search import (
    DiscoverySplit,
    MotifOptions,
    MotifResult,
    discover,
    matched_motifs,
    skill_gate,
)
from enhancerlm.core.dna import ALPHABET
from enhancerlm.defaults import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.fasta import read_fasta
from enhancerlm.formats.files import atomic_dir, atomic_path, write_json, write_text, write_tsv
from enhancerlm.formats.meme import write_meme
from enhancerlm.formats.multiqc import MOTIFS_SECTION, Markup, general_stats_tsv, html_section, html_table
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.scorer import load_trained

log = logging.getLogger(__name__)


def scan_fasta(
    source: str,
    fasta: str | os.PathLike,
    output: str | os.PathLike,
    *,
    release: str = JASPAR_RELEASE,
    tax_group: str = TAX_GROUP,
    threshold: float = 1e-4,
    batch: int = 1000,
) -> int:
    """FIMO hits of known motifs in every record of a FASTA file, streamed `batch` records at a time into
    a TSV (atomically; column `sequence` holds the record id). Returns the number of hits."""

    motifs = load_motifs(source, release=release, tax_group=tax_group)
    hits = 0
    with atomic_path(output) as tmp, open(tmp, "w") as handle:
        handle.write("\t".join(SCAN_COLUMNS) + "\n")
        records = read_fasta(fasta)
        while chunk := [record for _, record in zip(range(batch), records)]:
            table = scan_motifs(motifs, [record.sequence for record in chunk], threshold=threshold)
            table["sequence"] = [chunk[i].id for i in table["sequence"]]
            table.to_csv(handle, sep="\t", header=False, index=False, float_format="%.6g")
            hits += len(table)
    return hits


def discover_motifs(
    model_spec: str,
    dataset: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    prefix: str | None = None,
    options: MotifOptions = MotifOptions(),
) -> dict:
    """Find the motifs a model relies on, test them honestly, match them to known motifs, write everything.

    Nucleotide scores (attention or integrated gradients) of the split's positives give high-attention regions;
    k-mers the model attends more often than chance in the discovery part are the candidates; their enrichment in
    the held-out positives is tested (hypergeometric, BH) over the held-out negatives and over dinucleotide-shuffled
    copies of the same positives, so that composition alone (GC, CpG) enriches nothing; candidates significant in
    both are merged into motifs whose instances in the positives give PFMs, matched against known motifs (TOMTOM).
    """

    options.check()
    model = load_trained(model_spec)
    prefix = prefix or model.card["model_id"]
    split = DiscoverySplit.of(read_dataset(dataset), options, dataset)
    device = resolve_device(options.device)
    skill = skill_gate(model, split, options, device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = motif_paths(outdir, prefix)
    scores = score_nucleotides(
        model,
        split.sequences,
        method=options.method,
        batch_size=options.batch_size,
        ig_steps=options.ig_steps,
        device=device,
    )
    discovery_scores = write_tracks(paths["tracks"], split.positives["id"].tolist(), scores, split.is_discovery)
    result = discover(split, discovery_scores, options, prefix=prefix, skilled=skill["passed"])
    known = load_motifs(options.known_motifs, release=options.jaspar_release, tax_group=options.tax_group)
    motifs = matched_motifs(result, known, options.match_q)
    report = motif_report(prefix, model_spec, model.card, dataset, options, skill, split, result, motifs, paths)
    write_motif_outputs(paths, report, result, motifs)
    return report


class MotifReport(TypedDict):
    """NAME.motifs.json: the model, its skill, every count from records to motifs, the motifs and the files."""

    prefix: str
    version: str
    model: str
    model_id: str
    weights_sha256: str | None
    dataset: str
    parameters: dict
    skill: dict
    counts: dict
    motifs: list[dict]
    outputs: dict[str, str]


def motif_report(
    prefix: str,
    model_spec: str,
    card: dict,
    dataset,
    options: MotifOptions,
    skill: dict,
    split: DiscoverySplit,
    result: MotifResult,
    motifs: pd.DataFrame,
    paths: dict[str, Path],
) -> MotifReport:
    """The discovery's report, in one piece."""
    return MotifReport(
        prefix=prefix,
        version=__version__,
        model=model_spec,
        model_id=card.get("model_id", prefix),
        weights_sha256=card.get("weights_sha256"),
        dataset=str(dataset),
        parameters=options.recorded(),
        skill=skill,
        counts={**split.counts(), **result.counts, "motifs": len(motifs), "known": int(motifs["known"].sum())},
        motifs=motifs.to_dict(orient="records"),
        outputs={key: path.name for key, path in paths.items()},
    )


def write_motif_outputs(paths: dict[str, Path], report: MotifReport, result: MotifResult, motifs: pd.DataFrame) -> None:
    """The MEME file, tables, logos and MultiQC files of a discovery; the JSON report last."""
    nsites = {row["motif"]: row["instances_positive"] for row in motifs.to_dict(orient="records")}
    write_meme(result.pfms, paths["meme"], nsites=nsites)
    write_tsv(paths["motifs"], motifs)
    write_tsv(paths["candidates"], result.tested.sort_values(["p_value", "candidate"], kind="stable"))
    write_logos(result.pfms, paths["logos"])
    write_text(paths["mqc_table"], multiqc_motif_table(report["prefix"], motifs, paths["logos"]))
    write_text(paths["mqc_general"], multiqc_motif_hits(report["model_id"], report["counts"]))
    write_json(paths["json"], report)


def motif_paths(outdir: Path, prefix: str) -> dict[str, Path]:
    return {
        "meme": outdir / f"{prefix}.motifs.meme",
        "motifs": outdir / f"{prefix}.motifs.tsv",
        "candidates": outdir / f"{prefix}.candidates.tsv",
        "json": outdir / f"{prefix}.motifs.json",
        "logos": outdir / f"{prefix}.logos",
        "tracks": outdir / f"{prefix}.scores.bedGraph.gz",
        "mqc_table": outdir / f"{prefix}.motifs_mqc.html",
        "mqc_general": outdir / f"{prefix}.motif_hits_mqc.tsv",
    }


def track_lines(name: str, values: np.ndarray) -> Iterator[str]:
    """bedGraph lines of one sequence's per-nucleotide scores, in genome coordinates when the name is
    `chrom_start_end` (0-based, half-open, matching the length), else on a contig named after the sequence."""
    match = COORDINATES.match(name)
    if match and int(match[3]) - int(match[2]) == len(values):
        chrom, offset = match[1], int(match[2])
    else:
        chrom, offset = name, 0
    for position, value in enumerate(values):
        yield f"{chrom}\t{offset + position}\t{offset + position + 1}\t{value:.5g}\n"


def write_tracks(path: Path, names: list[str], scores: Iterator[np.ndarray], keep: np.ndarray) -> list[np.ndarray]:
    """Stream every sequence's scores into a gzipped bedGraph (atomically) and return those marked `keep`."""
    kept = []
    with atomic_path(path) as tmp, gzip.open(tmp, "wt", compresslevel=5) as handle:
        handle.write(
            f'track type=bedGraph name="{path.name.split(".scores")[0]}" description="enhancerlm nucleotide scores"\n'
        )
        for name, values, chosen in zip(names, scores, keep):
            handle.writelines(track_lines(name, values))
            if chosen:
                kept.append(values)
    return kept


def write_logos(pfms: Mapping[str, np.ndarray], directory: Path) -> list[Path]:
    """One information-content logo (PNG) per motif, in a directory replaced atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt

    written = []
    with atomic_dir(directory) as staging:
        for name, pfm in pfms.items():
            frame = pd.DataFrame(pfm, columns=list(ALPHABET))
            information = logomaker.transform_matrix(frame, from_type="probability", to_type="information")
            figure, axis = plt.subplots(figsize=(max(2.0, 0.35 * len(frame)), 1.6))
            logomaker.Logo(information, ax=axis, color_scheme="classic")
            axis.set_ylim(0, 2)
            axis.set_ylabel("bits")
            axis.set_title(name, fontsize=8)
            figure.tight_layout()
            figure.savefig(staging / f"{name}.png", dpi=100)
            plt.close(figure)
            written.append(directory / f"{name}.png")
    return written


def multiqc_motif_table(prefix: str, motifs: pd.DataFrame, logos: Path) -> str:
    """MultiQC custom content (HTML): the motif table with JASPAR matches and each motif's logo inline."""
    import base64
    import html

    rows = []
    for row in motifs.to_dict(orient="records"):
        logo = logos / f"{row['motif']}.png"
        image = (
            Markup(
                f'<img alt="{html.escape(row["motif"])} logo" style="height:48px" src="data:image/png;base64,'
                f'{base64.b64encode(logo.read_bytes()).decode()}"/>'
            )
            if logo.exists()
            else ""
        )
        match = "" if pd.isna(row["match_id"]) else f"{row['match_id']} {row['match_name']}"
        rows.append(
            [
                row["motif"],
                image,
                row["consensus"],
                row["instances_positive"],
                row["instances_negative"],
                f"{row['enrichment_q']:.2e}",
                f"{row['control_q']:.2e}",
                match,
                "" if pd.isna(row["match_q"]) else f"{row['match_q']:.2e}",
                "yes" if row["known"] else "no",
            ]
        )
    header = [
        "Motif",
        "Logo",
        "Consensus",
        "Instances (pos)",
        "Instances (neg)",
        "q vs negatives",
        "q vs shuffled",
        "Best JASPAR match",
        "TOMTOM q",
        "Known",
    ]
    return html_section(
        MOTIFS_SECTION,
        f"enhancerlm_motifs_{prefix}",
        f"Motifs: {prefix}",
        "Motifs discovered from the model, each enriched in held-out positives over held-out negatives and over "
        "dinucleotide-shuffled copies of the same positives (so not by composition alone), matched to JASPAR "
        "with TOMTOM.",
        html_table("enhancerlm-motifs", header, rows, empty="No motif passed the filters."),
    )


def multiqc_motif_hits(model_id: str, counts: dict) -> str:
    """MultiQC general-statistics custom content: the motif count and JASPAR matches in the model's row."""
    return general_stats_tsv(
        "enhancerlm_motif_hits",
        model_id,
        {
            "Motifs": (
                {"title": "Motifs", "description": "Motifs discovered", "format": "{:,.0f}"},
                str(counts["motifs"]),
            ),
            "Known motifs": (
                {
                    "title": "JASPAR hits",
                    "description": "Discovered motifs matching JASPAR (TOMTOM q < 0.05)",
                    "format": "{:,.0f}",
                },
                str(counts["known"]),
            ),
        },
    )
