"""Motif discovery as one procedure over a model and a data set split, built from the stages in `motif_discovery`:
the discovery and held-out parts, the skill gate, candidates from the attended k-mers of the discovery part, their
tests on the held-out part (against negatives and against composition), merging into motifs with PFMs, and their
best known matches. It reads and writes no files: `commands.motifs` opens the inputs and writes the results."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from enhancerlm.analysis.attribution import METHODS
from enhancerlm.analysis.known_motifs import KnownMotif, match_motifs
from enhancerlm.analysis.motif_discovery import (
    CONTROL_COLUMNS,
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
from enhancerlm.core.dna import canonical_sequence, consensus
from enhancerlm.defaults import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.errors import InputError
from enhancerlm.models.scorer import Scorer

log = logging.getLogger(__name__)


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

    def check(self) -> None:
        """Refuse settings no discovery can run with."""
        if self.method not in METHODS:
            raise InputError(f"method must be one of {METHODS}, got {self.method!r}", parameters=("method",))
        if not 0 < self.discovery_fraction < 1:
            raise InputError(
                f"discovery_fraction must lie strictly between 0 and 1, got {self.discovery_fraction}",
                parameters=("discovery_fraction",),
            )
        if not 1 <= self.kmer_length <= 12:
            raise InputError(f"kmer_length must be 1..12, got {self.kmer_length}", parameters=("kmer_length",))

    def recorded(self) -> dict:
        """The settings that decide the result, as the report records them (not the batch size or device)."""
        return {key: value for key, value in asdict(self).items() if key not in ("batch_size", "device")}


@dataclass
class DiscoverySplit:
    """The records of one split, as discovery uses them: the positives (attributed), the negatives, which positives
    are in the discovery part, and the held-out part's sequences (where enrichment is tested)."""

    table: pd.DataFrame  # every record of the data set (the skill gate may use the test split)
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
            table=records,
            positives=positives,
            sequences=positives["sequence"].tolist(),
            negatives=table.loc[table["label"] == 0, "sequence"].tolist(),
            is_discovery=discovery[table["label"].to_numpy() == 1],
            heldout=heldout,
            held_pos=heldout.loc[heldout["label"] == 1, "sequence"].tolist(),
            held_neg=heldout.loc[heldout["label"] == 0, "sequence"].tolist(),
        )

    def counts(self) -> dict[str, int]:
        return {
            "positives": len(self.positives),
            "negatives": len(self.negatives),
            "discovery_positives": int(self.is_discovery.sum()),
            "heldout_positives": len(self.held_pos),
            "heldout_negatives": len(self.held_neg),
        }


@dataclass
class MotifResult:
    """What a discovery found: every tested candidate, the motifs (table rows) and their PFMs, and the counts
    from attended k-mers to merged groups."""

    tested: pd.DataFrame
    rows: list[dict]
    pfms: dict[str, np.ndarray]
    counts: dict


def skill_gate(model: Scorer, split: DiscoverySplit, options: MotifOptions, device) -> dict:
    """How well the model separates held-out positives from negatives; `passed` when better than chance, since
    only then are its attributions evidence."""
    records = skill_records(split.table, options.split, split.heldout)
    skill = model_skill(model, records, batch_size=options.batch_size, device=device)
    passed = skill["p_value"] <= options.max_skill_p
    if not passed:
        log.warning(
            "%s separates held-out positives from negatives no better than chance (AUC %.3f, p = %.2g): "
            "its attributions are not evidence, so no motif is reported",
            model.card.get("model_id"),
            skill["auc"],
            skill["p_value"],
        )
    return {**skill, "passed": bool(passed)}


def discover(
    split: DiscoverySplit, discovery_scores: list[np.ndarray], options: MotifOptions, *, prefix: str, skilled: bool
) -> MotifResult:
    """Candidates from the discovery positives' nucleotide scores (none unless the model is `skilled`), tested on the
    held-out part, the significant ones merged into motifs named `<prefix>_motif<n>` with their PFMs."""
    discovery_sequences = [s for s, chosen in zip(split.sequences, split.is_discovery) if chosen]
    kmers, rate = attended_kmers(
        discovery_sequences,
        discovery_scores,
        width=options.kmer_length,
        min_len=options.min_len,
        f=options.min_factor,
        gap=options.gap,
    )
    candidates = pick_candidates(kmers, min_count=options.min_count, max_p=options.attention_p) if skilled else []
    tested = tested_candidates(candidates, kmers, split, options.seed)
    survives = (tested["q_value"] < options.max_q) & (tested["control_q_value"] < options.max_q)
    tested = tested.assign(survives=survives.astype(bool))
    significant = tested[tested["survives"]].sort_values(["p_value", "candidate"], kind="stable")
    groups = merge_candidates(significant["candidate"].tolist(), options.min_len, both_strands=True)
    rows, pfms = motif_rows(groups, significant.set_index("candidate"), prefix, split, options)
    counts = {
        "attended_fraction": rate,
        "kmers_seen": len(kmers),
        "candidates": len(candidates),
        "enriched": int((tested["q_value"] < options.max_q).sum()),
        "significant": len(significant),
        "merged": len(groups),
    }
    return MotifResult(tested=tested, rows=rows, pfms=pfms, counts=counts)


def tested_candidates(candidates: list[str], kmers: pd.DataFrame, split: DiscoverySplit, seed: int) -> pd.DataFrame:
    """The candidates' enrichment in held-out positives over held-out negatives and over composition-matched
    (dinucleotide-shuffled) copies of the same positives, with their attention statistics."""
    if not candidates:
        return pd.DataFrame(columns=[*ENRICHMENT_COLUMNS, *CONTROL_COLUMNS, *kmers.columns.drop("kmer")])
    tested = hypergeometric_enrichment(candidates, split.held_pos, split.held_neg)
    tested = composition_controlled(tested, split.held_pos, shuffled_controls(split.held_pos, seed))
    return tested.merge(kmers.rename(columns={"kmer": "candidate"}), on="candidate", how="left")


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


def matched_motifs(result: MotifResult, known: list[KnownMotif], match_q: float) -> pd.DataFrame:
    """The motifs table with each motif's best known match (TOMTOM) and whether it counts as known."""
    matches = match_motifs(result.pfms, known)
    motifs = pd.DataFrame(result.rows, columns=MOTIF_COLUMNS[: MOTIF_COLUMNS.index("control_q") + 1])
    motifs = motifs.merge(matches, on="motif", how="left") if len(motifs) else pd.DataFrame(columns=MOTIF_COLUMNS)
    motifs["known"] = (motifs["match_q"] < match_q).astype(bool)
    return motifs[MOTIF_COLUMNS]
