"""What a genome scan reports, from its bedGraph and shuffled null alone: the calling rule (an FDR, or a raw
threshold), the regions, the bigWig and bigBed, the score distributions real and shuffled, plain-words warnings
and the MultiQC content. `predict` and `merge_predictions` both finish through here, which is why a chunked scan
gathers into the files of a whole one."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

import numpy as np
import pandas as pd

from enhancerlm.analysis.calibration import fdr_cutoff, fdr_qvalues, null_auc, truth_metrics
from enhancerlm.analysis.scan import ScannedBases, ScoreCounts, call_regions
from enhancerlm.core.probability import SCALE, format_probability, threshold_millionths
from enhancerlm.defaults import DEFAULT_FDR
from enhancerlm.errors import InputError
from enhancerlm.formats.files import atomic_path, write_json, write_text
from enhancerlm.formats.multiqc import histogram_linegraph, table_tsv
from enhancerlm.formats.tracks import bigwig_writer, read_bedgraph, write_bigbed

log = logging.getLogger(__name__)


CALLED_SHARE_WARNING = 0.2  # enhancers cover a few percent of a genome; a scan calling more than this is suspect


NULL_AUC_WARNING = 0.6  # below this the model barely tells genomic windows from their shuffled copies


class ScanScope(TypedDict):
    """What a scan covered and how, as `predict` and `merge-predictions` know it before any result."""

    prefix: str
    model: dict
    genome: str
    parameters: dict
    chunks: list[str] | None
    contigs: dict
    short_contigs: list[str]
    windows: dict  # scored and skipped (by reason)
    throughput: dict
    versions: dict


class ChunkReport(ScanScope):
    """NAME.predict.json of a chunk: its scope and files; a chunk calls no regions."""

    outputs: dict


class ScanReport(ScanScope):
    """NAME.predict.json of a whole or merged scan: its scope, the calling rule and its results, files, warnings."""

    calling: dict
    regions: dict
    score_distribution: dict
    truth: NotRequired[dict]
    calibration: NotRequired[dict]
    outputs: dict
    warnings: list[str]


@dataclass
class ScanSummary:
    """What `write_results` found in a scan's bedGraph."""

    calling: dict
    regions: dict
    score_distribution: dict
    bigbed: dict  # made, or the reason not
    truth: dict | None = None
    calibration: dict | None = None


def output_paths(outdir: Path, prefix: str, *, calibrate: bool, chunk: bool = False) -> dict[str, Path]:
    """Every file a scan writes; the json first, so that it is moved into place last. A chunk of a scan writes
    only what merge-predictions reads: its report, window scores with their counts, and calibration sample."""
    names = {"json": "predict.json", "bedgraph": "windows.bedgraph"}
    if chunk:
        names["score_counts"] = "score_counts.tsv"
    else:
        names |= {
            "bigwig": "windows.bw",
            "enhancers": "enhancers.bed",
            "mqc_table": "predict_mqc.tsv",
            "mqc_scores": "score_distribution_mqc.json",
        }
    if calibrate:
        names["calibration"] = "calibration.tsv"
    if not chunk and shutil.which("bedToBigBed"):
        names["bigbed"] = "enhancers.bb"
    return {key: outdir / f"{prefix}.{name}" for key, name in names.items()}


@contextlib.contextmanager
def staged_outputs(paths: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """Temporary files for all outputs, renamed into place together (in reverse order) only on success."""
    with contextlib.ExitStack() as stack:
        yield {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}


def write_results(
    staged: dict[str, Path],
    *,
    prefix: str,
    sizes: dict[str, int],
    window: int,
    stride: int,
    calling: dict,
    merge_gap: int,
    scanned: list[str],
    scores: ScoreCounts,
    truth: Path | None = None,
    null: np.ndarray | None = None,
) -> ScanSummary:
    """From the staged bedGraph, read once: the bigWig and the enhancer regions (BED, bigBed) called by `calling`
    (a raw `threshold`, or else the `fdr` against the shuffled `null`); with the windows' `scores` (counted while
    scoring, or summed from the chunks), the score distributions, truth metrics and q-values. Returns their summary
    for the report."""
    scanned_bases = ScannedBases(window, sizes)
    shuffled = _counts_of(null) if null is not None else None
    qvalues = fdr_qvalues(shuffled.counts, scores.counts) if shuffled is not None else None
    if calling["threshold"] is not None:
        lowest = threshold_millionths(calling["threshold"])
    else:
        lowest = fdr_cutoff(qvalues, calling["fdr"])
    called, bases = [], 0
    with bigwig_writer(staged["bigwig"], sizes) as add_to_bigwig, open(staged["enhancers"], "w") as handle:
        frames = _tracked(read_bedgraph(staged["bedgraph"], window, stride), add_to_bigwig, scanned_bases)
        regions = call_regions(frames, window=window, lowest=lowest, merge_gap=merge_gap)
        for number, region in enumerate(regions, start=1):
            q = f"\t{qvalues[region.max_millionths]:.4g}" if qvalues is not None else ""
            mean = region.sum_millionths / region.windows / SCALE
            handle.write(
                f"{region.chrom}\t{region.start}\t{region.end}\t{prefix}_region{number}\t"
                f"{(region.max_millionths + 500) // 1000}\t.\t{format_probability(region.max_millionths)}\t"
                f"{mean:.6f}\t{region.windows}{q}\n"
            )
            bases += region.end - region.start
            called.append((region.chrom, region.start, region.end))
    return ScanSummary(
        calling={
            "rule": "threshold" if calling["threshold"] is not None else "fdr",
            **calling,
            "cutoff": lowest / SCALE if lowest <= SCALE else None,
        },
        regions={
            "called": len(called),
            "bases_covered": bases,
            "bases_scanned": scanned_bases.total,
            "fraction_called": round(bases / scanned_bases.total, 6) if scanned_bases.total else 0.0,
        },
        score_distribution=scores.summary(lowest),
        bigbed=write_bigbed(staged, sizes, fdr=qvalues is not None),
        truth=truth_metrics(called, truth, scanned) if truth else None,
        calibration=_calibration_summary(shuffled, scores, lowest, qvalues) if shuffled is not None else None,
    )


def _counts_of(millionths: np.ndarray) -> ScoreCounts:
    counts = ScoreCounts()
    counts.add(millionths)
    return counts


def _calibration_summary(shuffled: ScoreCounts, scores: ScoreCounts, lowest: int, qvalues: np.ndarray) -> dict:
    """How the scanned windows' scores compare with their shuffled copies': the null's distribution and the AUC."""
    auc = null_auc(shuffled.counts, scores.counts)
    return {
        "method": "dinucleotide-shuffled copies (Altschul-Erickson) of a sample of the scored windows, scored "
        "like the real ones. FDR(t) = (shuffled windows >= t + 1) / (shuffled windows + 1) x (windows scored) / "
        "(scored windows >= t), capped at 1; a region's q-value (the BED's fdr column) is the smallest FDR of a "
        "cut-off at or below its max_probability",
        "shuffled_windows": shuffled.total,
        "auc_real_vs_shuffled": round(auc, 6) if auc is not None else None,
        "best_q_value": round(float(qvalues[-1]), 6),
        "shuffled_distribution": shuffled.summary(lowest),
    }


def _tracked(
    frames: Iterable[pd.DataFrame], add_to_bigwig: Callable[[pd.DataFrame], None], scanned: ScannedBases
) -> Iterator[pd.DataFrame]:
    """The frames, each added to the bigWig and its windows' bases counted as it passes."""
    for frame in frames:
        add_to_bigwig(frame)
        for chrom, part in frame.groupby("chrom", sort=False):
            scanned.add(chrom, part["window_start"].to_numpy())
        yield frame


def background_warnings(summary: ScanSummary) -> list[str]:
    """Plain-words warnings about a scan whose calls no biologist should take as enhancers."""
    advice = (
        "this model was not trained to discriminate genomic background. Train it on genome regions against "
        "GC-matched genomic negatives (prepare --bed --genome, or --input_regions in the pipeline)"
    )
    warnings = []
    calibration = summary.calibration or {}
    auc, fdr = calibration.get("auc_real_vs_shuffled"), summary.calling["fdr"] or DEFAULT_FDR
    if auc is not None and auc < NULL_AUC_WARNING and calibration["best_q_value"] > fdr:
        warnings.append(
            f"the model scores the scanned windows hardly higher than their dinucleotide-shuffled copies (AUC "
            f"{auc:.2f}, below {NULL_AUC_WARNING}) and no window reaches FDR {fdr}: {advice}. A model trained so "
            "whose signal is dinucleotide composition (CpG density, say) gets this warning too: the shuffle keeps it."
        )
    share = summary.regions["fraction_called"]
    if share > CALLED_SHARE_WARNING:
        rule = "" if summary.calling["rule"] == "fdr" else ", or call regions at a controlled FDR (--fdr)"
        warnings.append(
            f"{share:.0%} of the scanned bases are called enhancer (more than {CALLED_SHARE_WARNING:.0%}): "
            f"{advice}{rule}."
        )
    return warnings


def multiqc_table(prefix: str, report: dict) -> str:
    """MultiQC custom content: one table row per scan; the section's description carries the scan's warnings."""
    columns = {
        "Windows scored": report["windows"]["scored"],
        "Skipped (N)": report["windows"]["skipped"]["n_fraction"],
        "Skipped (blacklist)": report["windows"]["skipped"]["blacklist"],
        "Cut-off": report["calling"]["cutoff"],
        "AUC vs shuffled": report.get("calibration", {}).get("auc_real_vs_shuffled"),
        "Regions": report["regions"]["called"],
        "Bases covered": report["regions"]["bases_covered"],
        "Called (%)": round(100 * report["regions"]["fraction_called"], 2),
    }
    return table_tsv(
        "enhancerlm_predict",
        "enhancerlm: genome scan",
        " ".join(["Windows scored and skipped, and enhancer regions called, per scan.", *report["warnings"]]),
        prefix,
        columns,
    )


def multiqc_scores(prefix: str, report: dict) -> dict:
    """MultiQC custom content: the window score distribution, and the shuffled null's beside it, as a line graph
    of the share of windows per bin (x: bin centre)."""
    series = {prefix: report["score_distribution"]}
    if "calibration" in report:
        series[f"{prefix} (shuffled null)"] = report["calibration"]["shuffled_distribution"]
    return histogram_linegraph(
        "enhancerlm_predict_scores",
        "enhancerlm: window score distribution",
        series,
        description="Enhancer probabilities of the scanned windows and of their dinucleotide-shuffled copies: a "
        "model that tells genomic enhancers from background puts the two apart.",
        title="enhancerlm: window probabilities, real and shuffled",
        xlab="Enhancer probability (bin centre)",
        ylab="Windows (%)",
        xmin=0,
        xmax=1,
        percent=True,
    )


def finish_report(
    paths: dict[str, Path], staged: dict[str, Path], scope: ScanScope, summary: ScanSummary, throughput: dict
) -> ScanReport:
    """The report of a whole or merged scan from its scope and results, written with the MultiQC files."""
    outputs = {key: path.name for key, path in paths.items()} | {"bigbed_made": summary.bigbed["made"]}
    report: ScanReport = {
        **scope,
        "throughput": _with_rate(throughput, scope["windows"]["scored"]),
        "calling": summary.calling,
        "regions": summary.regions,
        "score_distribution": summary.score_distribution,
        **({"truth": summary.truth} if summary.truth is not None else {}),
        **({"calibration": summary.calibration} if summary.calibration is not None else {}),
        "outputs": outputs | ({} if summary.bigbed["made"] else {"bigbed_note": summary.bigbed["reason"]}),
        "warnings": background_warnings(summary),
    }
    for warning in report["warnings"]:
        log.warning("%s: %s", scope["prefix"], warning)
    write_text(staged["mqc_table"], multiqc_table(scope["prefix"], report))
    write_json(staged["mqc_scores"], multiqc_scores(scope["prefix"], report))
    write_json(staged["json"], report)
    return report


def finish_chunk(paths: dict[str, Path], staged: dict[str, Path], scope: ScanScope, throughput: dict) -> ChunkReport:
    """Write a chunk scan's report: no regions, tracks or MultiQC files, since a region may cross the chunk's
    border and an FDR holds only over the whole scan; merge-predictions makes them once, from every chunk."""
    report: ChunkReport = {
        **scope,
        "throughput": _with_rate(throughput, scope["windows"]["scored"]),
        "outputs": {key: path.name for key, path in paths.items()},
    }
    write_json(staged["json"], report)
    return report


def _with_rate(throughput: dict, scored: int) -> dict:
    """The throughput with the windows scored per second of its `seconds`."""
    seconds = throughput["seconds"]
    return {**throughput, "windows_per_second": round(scored / seconds, 1) if seconds else None}


def calling_rule(threshold: float | None, fdr: float | None, *, calibrate: bool) -> dict:
    """How a scan calls regions: at a raw probability `threshold` when one is given, else at the empirical `fdr`,
    which needs the shuffled null (`calibrate`)."""
    if threshold is not None:
        return {"threshold": float(threshold), "fdr": None}
    if not calibrate or fdr is None:
        raise InputError(
            "regions are called at an FDR against shuffled windows unless a threshold is given: calibrate, or give "
            "a threshold for a raw cut-off",
            parameters=("calibrate", "threshold"),
        )
    if not 0 < fdr <= 1:
        raise InputError(f"fdr {fdr} is not in (0, 1]", parameters=("fdr",))
    return {"threshold": None, "fdr": float(fdr)}
