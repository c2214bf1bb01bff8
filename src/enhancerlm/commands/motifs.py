"""`enhancerlm motifs` and `scan-motifs`: discover the motifs a model relies on, test them on held-out records,
match them to known motifs, and write the MEME file, tables, logos, tracks and MultiQC content."""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm import __version__
from enhancerlm.analysis.attribution import METHODS, score_nucleotides
from enhancerlm.analysis.known_motifs import SCAN_COLUMNS, load_motifs, match_motifs, scan_motifs
from enhancerlm.analysis.motif_discovery import (
    CONTROL_COLUMNS,
    COORDINATES,
    ENRICHMENT_COLUMNS,
    MOTIF_COLUMNS,
    attended_kmers,
    composition_controlled,
    containing,
    hypergeometric_enrichment,
    merge_candidates,
    model_skill,
    motif_instances,
    pfm_from_instances,
    pick_candidates,
    shuffled_controls,
    skill_records,
    split_halves,
)
from enhancerlm.core.dna import ALPHABET, canonical_sequence, consensus
from enhancerlm.defaults import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.fasta import read_fasta
from enhancerlm.formats.files import atomic_dir, atomic_path, write_json, write_text, write_tsv
from enhancerlm.formats.meme import write_meme
from enhancerlm.formats.multiqc import MOTIFS_SECTION, Markup, general_stats_tsv, html_section, html_table
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.scorer import Scorer, load_trained

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


@dataclass(frozen=True)
class MotifOptions:
    """Parameters of motif discovery; region calling and filters default to the published values."""

    method: str = "attention"
    split: str = "train"
    min_len: int = 5  # shortest high-attention region (DNABERT)
    min_factor: float = 1.0  # score > min_factor * min(score) (iEnhancer-ELM's f; DNABERT uses 10)
    gap: int = 1  # low nucleotides bridged inside a region
    kmer_length: int = 6  # candidate length
    min_count: int = 3  # candidate attended in at least this many discovery sequences (DNABERT's min_n_motif)
    attention_p: float = 0.01  # candidate attended more often than chance at this binomial p
    max_q: float = 0.005  # enrichment BH q-value on the held-out half (DNABERT's pval_cutoff)
    min_instances: int = 11  # instances a merged motif needs (iEnhancer-ELM)
    motif_width: int = 10  # PFM window around instances (DNABERT's window; wider when members span more)
    discovery_fraction: float = 0.5  # share of each class used to pick candidates; the rest tests them
    max_skill_p: float = 0.01  # the model must separate held-out classes at this Mann-Whitney p
    seed: int = 42
    jaspar_release: str = JASPAR_RELEASE
    tax_group: str = TAX_GROUP
    known_motifs: str = "jaspar"  # or a MEME file
    match_q: float = 0.05  # TOMTOM q-value for a known-motif match
    ig_steps: int = 20
    batch_size: int = 32
    device: str = "auto"


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

    _check_options(options)
    model = load_trained(model_spec)
    prefix = prefix or model.card["model_id"]
    records = read_dataset(dataset)
    split = DiscoverySplit.of(records, options, dataset)
    device = resolve_device(options.device)
    skill = _skill(model, model_spec, records, split, options, device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = motif_paths(outdir, prefix)
    kmers, rate = _attended_kmers(model, split, options, device, paths["tracks"])
    skilled = skill["passed"]
    candidates = pick_candidates(kmers, min_count=options.min_count, max_p=options.attention_p) if skilled else []
    tested = _tested(candidates, kmers, split, options.seed)
    survives = (tested["q_value"] < options.max_q) & (tested["control_q_value"] < options.max_q)
    tested = tested.assign(survives=survives.astype(bool))
    significant = tested[tested["survives"]].sort_values(["p_value", "candidate"], kind="stable")
    groups = merge_candidates(significant["candidate"].tolist(), options.min_len, both_strands=True)
    rows, pfms = motif_rows(groups, significant.set_index("candidate"), prefix, split, options)
    motifs = _matched(rows, pfms, options)
    counts = {
        "attended_fraction": rate,
        "kmers_seen": len(kmers),
        "candidates": len(candidates),
        "enriched": int((tested["q_value"] < options.max_q).sum()),
        "significant": len(significant),
        "merged": len(groups),
    }
    report = _report(prefix, model_spec, model.card, dataset, options, skill, split, counts, motifs, paths)
    write_motif_outputs(paths, report, pfms, motifs, tested)
    return report


def _skill(
    model: Scorer, model_spec: str, records: pd.DataFrame, split: DiscoverySplit, options: MotifOptions, device
) -> dict:
    """How well the model separates held-out positives from negatives; `passed` when better than chance, since
    only then are its attributions evidence."""
    skill = model_skill(
        model, skill_records(records, options.split, split.heldout), batch_size=options.batch_size, device=device
    )
    passed = skill["p_value"] <= options.max_skill_p
    if not passed:
        log.warning(
            "%s separates held-out positives from negatives no better than chance (AUC %.3f, p = %.2g): "
            "its attributions are not evidence, so no motif is reported",
            model_spec,
            skill["auc"],
            skill["p_value"],
        )
    return {**skill, "passed": bool(passed)}


def _attended_kmers(
    model: Scorer, split: DiscoverySplit, options: MotifOptions, device, tracks: Path
) -> tuple[pd.DataFrame, float]:
    """Nucleotide scores of the positives (written as tracks); the k-mers of the discovery part's high-attention
    regions, and the fraction of positions attended."""
    scores = score_nucleotides(
        model,
        split.sequences,
        method=options.method,
        batch_size=options.batch_size,
        ig_steps=options.ig_steps,
        device=device,
    )
    discovery_scores = write_tracks(tracks, split.positives["id"].tolist(), scores, split.is_discovery)
    discovery_sequences = [s for s, d in zip(split.sequences, split.is_discovery) if d]
    return attended_kmers(
        discovery_sequences,
        discovery_scores,
        width=options.kmer_length,
        min_len=options.min_len,
        f=options.min_factor,
        gap=options.gap,
    )


@dataclass
class DiscoverySplit:
    """The records of one split, as discovery uses them: the positives (attributed), the negatives, which positives
    are in the discovery part, and the held-out part's sequences (where enrichment is tested)."""

    positives: pd.DataFrame
    sequences: list[str]  # the positives' sequences, upper case
    negatives: list[str]
    is_discovery: np.ndarray
    heldout: pd.DataFrame
    held_pos: list[str]
    held_neg: list[str]

    @classmethod
    def of(cls, records: pd.DataFrame, options: MotifOptions, dataset) -> DiscoverySplit:
        table = records[records["split"] == options.split].reset_index(drop=True)
        table["sequence"] = table["sequence"].str.upper()
        if table["label"].nunique() < 2:
            raise InputError(
                f"{dataset}: split {options.split!r} needs both positives and negatives for motif discovery"
            )
        discovery = split_halves(table, options.discovery_fraction, options.seed)
        heldout = table[~discovery]
        positives = table[table["label"] == 1].reset_index(drop=True)
        return cls(
            positives=positives,
            sequences=positives["sequence"].tolist(),
            negatives=table.loc[table["label"] == 0, "sequence"].tolist(),
            is_discovery=discovery[table["label"].to_numpy() == 1],
            heldout=heldout,
            held_pos=heldout.loc[heldout["label"] == 1, "sequence"].tolist(),
            held_neg=heldout.loc[heldout["label"] == 0, "sequence"].tolist(),
        )


def _tested(candidates: list[str], kmers: pd.DataFrame, split: DiscoverySplit, seed: int) -> pd.DataFrame:
    """The candidates' enrichment in held-out positives over held-out negatives and over composition-matched
    (dinucleotide-shuffled) copies of the same positives, with their attention statistics."""
    if not candidates:
        return pd.DataFrame(columns=[*ENRICHMENT_COLUMNS, *CONTROL_COLUMNS, *kmers.columns.drop("kmer")])
    tested = hypergeometric_enrichment(candidates, split.held_pos, split.held_neg)
    tested = composition_controlled(tested, split.held_pos, shuffled_controls(split.held_pos, seed))
    return tested.merge(kmers.rename(columns={"kmer": "candidate"}), on="candidate", how="left")


def _matched(rows: list[dict], pfms: dict, options: MotifOptions) -> pd.DataFrame:
    """The motifs table with each motif's best known match (TOMTOM) and whether it counts as known."""
    known = load_motifs(options.known_motifs, release=options.jaspar_release, tax_group=options.tax_group)
    matches = match_motifs(pfms, known)
    motifs = pd.DataFrame(rows, columns=MOTIF_COLUMNS[: MOTIF_COLUMNS.index("control_q") + 1])
    motifs = motifs.merge(matches, on="motif", how="left") if len(motifs) else pd.DataFrame(columns=MOTIF_COLUMNS)
    motifs["known"] = (motifs["match_q"] < options.match_q).astype(bool)
    return motifs[MOTIF_COLUMNS]


def _report(
    prefix: str,
    model_spec: str,
    card: dict,
    dataset,
    options: MotifOptions,
    skill: dict,
    split: DiscoverySplit,
    counts: dict,
    motifs: pd.DataFrame,
    paths: dict[str, Path],
) -> dict:
    """The discovery's report (NAME.motifs.json): the model, its skill, every count from records to motifs."""
    return {
        "prefix": prefix,
        "version": __version__,
        "model": model_spec,
        "model_id": card.get("model_id", prefix),
        "weights_sha256": card.get("weights_sha256"),
        "dataset": str(dataset),
        "parameters": {k: v for k, v in options.__dict__.items() if k not in ("batch_size", "device")},
        "skill": skill,
        "counts": {
            "positives": len(split.positives),
            "negatives": len(split.negatives),
            "discovery_positives": int(split.is_discovery.sum()),
            "heldout_positives": len(split.held_pos),
            "heldout_negatives": len(split.held_neg),
            **counts,
            "motifs": len(motifs),
            "known": int(motifs["known"].sum()),
        },
        "motifs": motifs.to_dict(orient="records"),
        "outputs": {key: path.name for key, path in paths.items()},
    }


def motif_rows(
    groups: list[list[str]], best: pd.DataFrame, prefix: str, split: DiscoverySplit, options: MotifOptions
) -> tuple[list[dict], dict]:
    """One motif per group of merged candidates with enough instances in the positives: its table row and PFM."""
    rows, pfms = [], {}
    for group in groups:
        instances = motif_instances(group, split.sequences, options.motif_width)
        if len(instances) < options.min_instances:
            continue
        name = f"{prefix}_motif{len(pfms) + 1}"
        pfms[name] = pfm_from_instances(instances)
        seed_row = best.loc[canonical_sequence(group[0])]
        rows.append(
            {
                "motif": name,
                "consensus": consensus(pfms[name]),
                "width": pfms[name].shape[0],
                "n_candidates": len(group),
                "seed_candidate": group[0],
                "instances_positive": len(instances),
                "instances_negative": len(motif_instances(group, split.negatives, options.motif_width)),
                "heldout_positive": containing(group, split.held_pos),
                "heldout_negative": containing(group, split.held_neg),
                "enrichment_p": float(seed_row["p_value"]),
                "enrichment_q": float(seed_row["q_value"]),
                "control_q": float(seed_row["control_q_value"]),
            }
        )
    return rows, pfms


def write_motif_outputs(
    paths: dict[str, Path], report: dict, pfms: dict, motifs: pd.DataFrame, tested: pd.DataFrame
) -> None:
    """The MEME file, tables, logos and MultiQC files of a discovery; the JSON report last."""
    nsites = {row["motif"]: row["instances_positive"] for row in motifs.to_dict(orient="records")}
    write_meme(pfms, paths["meme"], nsites=nsites)
    write_tsv(paths["motifs"], motifs)
    write_tsv(paths["candidates"], tested.sort_values(["p_value", "candidate"], kind="stable"))
    write_logos(pfms, paths["logos"])
    write_text(paths["mqc_table"], multiqc_motif_table(report["prefix"], motifs, paths["logos"]))
    write_text(paths["mqc_general"], multiqc_motif_hits(report["model_id"], report["counts"]))
    write_json(paths["json"], report)


def _check_options(options: MotifOptions) -> None:

    if options.method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {options.method!r}")
    if not 0 < options.discovery_fraction < 1:
        raise InputError(f"discovery fraction must lie strictly between 0 and 1, got {options.discovery_fraction}")
    if not 1 <= options.kmer_length <= 12:
        raise InputError(f"k-mer length must be 1..12, got {options.kmer_length}")


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
