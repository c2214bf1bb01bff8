"""Variant effect scoring: how much each ALT allele of a VCF changes the enhancer probability around it.

Windows. For a record at 0-based position p = POS - 1 whose REF has r bases, and one of its ALT alleles
with m bases, the reference window is genome[s, s + W) with s = p - W // 2: REF's first base sits at
offset W // 2, the centre of the window for an SNV. The alternative window is

    genome[s, p) + ALT + genome[p + r, ...)   cut or filled to exactly W bases:

the left flank (W // 2 bases) never moves and ALT follows it, so SNVs and MNVs (m = r) change bases in
place, a deletion (m < r) extends the right flank with the genome sequence after the window's end, and an
insertion (m > r) trims the right flank (an insertion of more than W - W // 2 bases fills the rest of the
window and is itself cut). Alleles are used as written (not normalised): a VCF's shared padding base stays
at the centre. With edge "shift", a window that would run off a contig end slides inside it instead: s is the
nearest start that keeps both windows on the contig (a deletion's right flank included), REF's first base then
sits at offset p - s (reported as window_offset and ENHLM_OFFSET), and the variant is off centre.
Both windows are scored with the model's `Scorer.score_windows`, as genome scans are (both
strands averaged unless the strand mode is `forward`), many records per call.

Scores, per allele, from the two probabilities rounded to 6 decimals (as reported):
delta = p_alt - p_ref; diff = (p_alt - p_ref) * max(p_ref, p_alt) (DNABERT's score); logOR =
log2(p_ref / (1 - p_ref)) - log2(p_alt / (1 - p_alt)) with both clipped to [EPS, 1 - EPS], EPS = 1e-6.
delta and diff are negative, and logOR positive, when the allele lowers the enhancer probability (a loss).

Statuses (ENHLM_STATUS, per allele), in the order they are checked; only `scored` alleles get scores:
  contig_missing     the record's contig is not in the genome, also after renaming (`ContigMap`)
  outside_contig     POS is 0, or REF runs past the end of the contig
  ref_mismatch       REF differs from the genome (case-insensitive); the record is not scored
  symbolic_allele    ALT is symbolic (<DEL>, <*>), `*`, `.` (no ALT), or a breakend ([, ], or a leading or
                     trailing `.`)
  invalid_allele     ALT holds letters other than A, C, G, T, N (e.g. IUPAC codes)
  window_off_contig  the reference or alternative window runs off either end of the contig (with edge "shift":
                     the contig is shorter than the window)
  too_many_n         the reference or alternative window has more than `max_n_fraction` non-ACGT bases
  scored             scored

TF sites (with `motifs`): FIMO hits (`analysis.known_motifs.scan_motifs`, p <= threshold, both strands) in the
two windows. REF and ALT are trimmed of their common prefix and suffix; what remains is the changed span of
each window ([a, b) in the reference window, [a, b') in the alternative one; an empty span is the junction
between bases a - 1 and a, which a hit covers when start < a < end). A (motif id, strand) is lost when a
reference hit overlaps the reference span and no alternative hit overlaps the alternative span, and gained
the other way round; each is reported as MOTIFID:NAME:STRAND:P with the best p-value of those hits, items
joined by `|` (`.` for none). Only the neighbourhood of the span is scanned, which finds the same hits.

Chunks. A record belongs to the chunk CONTIG:START-END (0-based, half-open, genome contig names) that holds
its POS - 1. Records that no such chunk can hold (contig not in the genome, or POS - 1 outside the contig)
belong to the special chunk `unplaced`. Every run reads the whole VCF (so each knows the input's record
count and the contig mapping), and `merge_variants` of the chunks covering every contig plus `unplaced`
gives byte for byte the TSV and VCF records of one unchunked run; a record in no chunk, or in two, is an
error there.

Outputs: NAME.scored.vcf.gz (bgzip, with a tabix index when the input is sorted; every input record in
input order, the header kept plus provenance and the ENHLM_ INFO fields), NAME.scores.tsv (a row per
record and allele), NAME.variants.json (counts, contig mapping, parameters, delta distribution, top
changes) and MultiQC content, all renamed into place only when the run succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from enhancerlm.analysis.known_motifs import load_motifs
from enhancerlm.analysis.scan import parse_chunk
from enhancerlm.analysis.variant_effect import AlleleScorer, summarise_scores
from enhancerlm.commands.runtime import release_free_memory
from enhancerlm.core.probability import EPS, score_fields
from enhancerlm.defaults import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.formats.files import atomic_path, write_json, write_text
from enhancerlm.formats.genome import open_genome
from enhancerlm.formats.multiqc import variants_deltas_mqc, variants_table_mqc, variants_top_mqc
from enhancerlm.formats.vcf import (
    UNPLACED,
    Allele,
    ContigMap,
    Record,
    VcfReader,
    vcf_header,
    vcf_line,
    vcf_stem,
    write_index,
)
from enhancerlm.models.card import PER_MEMBER, both_strands, model_summary, strand_mode
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.scorer import load_trained, scan_window
from enhancerlm.versions import software_versions

log = logging.getLogger(__name__)

GROUP_RECORDS = 10_000  # records read, scored and written at a time


GROUP_TEXT = 32 << 20  # at most about this many characters of VCF lines held at a time


TSV_COLUMNS = [
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "allele_index",
    "status",
    "p_ref",
    "p_alt",
    "delta",
    "diff",
    "logor",
    "window_offset",
    "tfbs_gain",
    "tfbs_loss",
    "record",
]


CONVENTIONS = {
    "delta": "p_alt - p_ref",
    "diff": "(p_alt - p_ref) * max(p_ref, p_alt) (DNABERT)",
    "logor": "log2(p_ref / (1 - p_ref)) - log2(p_alt / (1 - p_alt)), probabilities clipped to [eps, 1 - eps]",
    "eps": EPS,
    "sign": "a loss of enhancer probability has delta < 0, diff < 0 and logor > 0",
    "probabilities": "rounded to 6 decimals before delta, diff and logor are computed",
}


@dataclass
class VariantOptions:
    """How to score; `None` takes the model card's value (window, strand mode)."""

    window: int | None = None
    strand_mode: str | None = None
    max_n_fraction: float = 0.1
    edge: str = "center"  # or "shift" (analysis.variant_effect.EDGES)
    motifs: str | None = None  # "jaspar" or a MEME file
    jaspar_release: str = JASPAR_RELEASE
    tax_group: str = TAX_GROUP
    motif_threshold: float = 1e-4
    chunk: str | None = None  # CONTIG:START-END or "unplaced"
    batch_size: int = 64
    device: str = "auto"


def tsv_rows(record: Record, alleles: list[Allele], with_sites: bool) -> str:
    """The record's TSV rows, one per allele."""
    lines = []
    for index, (alt, allele) in enumerate(zip(record.alts, alleles), start=1):
        scores = dict.fromkeys(("p_ref", "p_alt", "delta", "diff", "logor"), "")
        if allele.status == "scored":
            scores = score_fields(allele.ref_millionths, allele.alt_millionths)
        sites = (allele.gain, allele.loss) if with_sites and allele.status == "scored" else ("", "")
        lines.append(
            "\t".join(
                [
                    record.chrom,
                    str(record.pos),
                    record.id,
                    record.ref,
                    alt,
                    str(index),
                    allele.status,
                    *scores.values(),
                    "" if allele.offset is None or allele.status != "scored" else str(allele.offset),
                    *sites,
                    str(record.number),
                ]
            )
        )
    return "".join(line + "\n" for line in lines)


def output_paths(outdir: Path, prefix: str) -> dict[str, Path]:
    """Every file a run writes (the index apart); the json first, so that it is moved into place last."""
    names = {
        "json": "variants.json",
        "tsv": "scores.tsv",
        "vcf": "scored.vcf.gz",
        "mqc_table": "variants_mqc.tsv",
        "mqc_deltas": "variant_deltas_mqc.json",
        "mqc_top": "variant_top_mqc.html",
    }
    return {key: outdir / f"{prefix}.{name}" for key, name in names.items()}


@contextlib.contextmanager
def staged_outputs(paths: dict[str, Path]) -> Iterator[tuple[dict[str, Path], contextlib.ExitStack]]:
    """Temporary files for all outputs, renamed into place together (in reverse order) only on success; the
    stack stages more (the tabix index, once it is known that one can be built)."""
    with contextlib.ExitStack() as stack:
        yield {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}, stack


class _InputRecords:
    """How many records the input has, and whether they are sorted as tabix needs (each contig in one block,
    positions not decreasing)."""

    def __init__(self) -> None:
        self.count, self.sorted, self._seen, self._last = 0, True, set(), (None, -1)

    def add(self, chrom: str, pos: int) -> None:
        self.count += 1
        if chrom != self._last[0]:
            if chrom in self._seen:
                self.sorted = False
            self._seen.add(chrom)
        elif pos < self._last[1]:
            self.sorted = False
        self._last = (chrom, pos)


def parse_variant_chunk(text: str | None, sizes: dict[str, int]) -> tuple[str, int, int] | str | None:
    """None, UNPLACED, or (contig, start, end) checked against the genome as `predict --chunk`."""
    if text is None:
        return None
    return UNPLACED if text.strip() == UNPLACED else parse_chunk(text, sizes)


def chunk_label(chunk: tuple[str, int, int] | str | None) -> str | None:
    return chunk if chunk is None or isinstance(chunk, str) else f"{chunk[0]}:{chunk[1]}-{chunk[2]}"


def in_chunk(chunk, chrom: str | None, pos: int, sizes: dict[str, int]) -> bool:
    """Whether a record (genome contig, 0-based POS - 1) belongs to the chunk (None: every record does)."""
    placed = chrom is not None and 0 <= pos < sizes[chrom]
    if chunk is None:
        return True
    if chunk == UNPLACED:
        return not placed
    return placed and chrom == chunk[0] and chunk[1] <= pos < chunk[2]


def _batches(records: Iterable[Record], size: int, text_limit: int = GROUP_TEXT) -> Iterator[list[Record]]:
    """Groups of `size` records, fewer when their lines hold more than `text_limit` characters (VCFs with
    thousands of samples have lines of many kB)."""
    batch: list[Record] = []
    text = 0
    for record in records:
        batch.append(record)
        text += len(record.line)
        if len(batch) == size or text > text_limit:
            yield batch
            batch, text = [], 0
    if batch:
        yield batch


def command_line(
    model_spec: str,
    genome: str | Path,
    vcf: str | Path,
    outdir: str | Path,
    prefix: str,
    options: VariantOptions,
    window: int,
    mode: str,
    fai: str | Path | None,
    gzi: str | Path | None,
) -> str:
    """The command that repeats this run (the effective window and strand mode spelled out)."""
    words = [
        "enhancerlm",
        "variants",
        "--model",
        model_spec,
        "--genome",
        str(genome),
        "--vcf",
        str(vcf),
        "--outdir",
        str(outdir),
        "--prefix",
        prefix,
        "--window",
        str(window),
        *(["--strand-mode", mode] if mode != PER_MEMBER else []),
        "--max-n-fraction",
        str(options.max_n_fraction),
        *(["--edge", options.edge] if options.edge != "center" else []),
    ]
    if options.motifs:
        words += ["--motifs", options.motifs, "--motif-threshold", str(options.motif_threshold)]
        if options.motifs.lower() == "jaspar":
            words += ["--jaspar-release", options.jaspar_release, "--tax-group", options.tax_group]
    if options.chunk:
        words += ["--chunk", options.chunk]
    for flag, index in (("--fai", fai), ("--gzi", gzi)):
        words += [flag, str(index)] if index else []
    words += ["--batch-size", str(options.batch_size), "--device", options.device]
    return shlex.join(words)


def _parameters(options: VariantOptions, window: int, mode: str) -> dict:
    """The settings that decide the scores (chunks merge only when these agree)."""
    motifs = options.motifs
    return {
        "window": window,
        "strand_mode": mode,
        "max_n_fraction": options.max_n_fraction,
        "edge": options.edge,
        "eps": EPS,
        "motifs": motifs,
        "motif_threshold": options.motif_threshold if motifs else None,
        "jaspar_release": options.jaspar_release if motifs and motifs.lower() == "jaspar" else None,
        "tax_group": options.tax_group if motifs and motifs.lower() == "jaspar" else None,
    }


def score_variants(
    model_spec: str,
    genome_path: str | Path,
    vcf_path: str | Path,
    outdir: str | Path,
    *,
    prefix: str | None = None,
    options: VariantOptions | None = None,
    fai: str | Path | None = None,
    gzi: str | Path | None = None,
) -> dict:
    """Score every ALT allele of a VCF (or of one chunk of it) with a trained model; write the scored VCF and
    its index, the scores TSV, the report and MultiQC content. Returns the report (NAME.variants.json)."""
    options = options or VariantOptions()
    started = time.perf_counter()
    model = load_trained(model_spec)
    window = scan_window(model, options.window)
    mode = strand_mode(model.card, options.strand_mode)
    prefix = prefix or vcf_stem(vcf_path)
    device = resolve_device(options.device)
    motifs = _known_motifs(options)
    summary_model = model_summary(model.card, model_spec)
    command = command_line(model_spec, genome_path, vcf_path, outdir, prefix, options, window, mode, fai, gzi)
    with_sites, shifted = motifs is not None, options.edge == "shift"
    with open_genome(genome_path, fai=fai, gzi=gzi) as genome, VcfReader(vcf_path) as vcf:
        chunk = parse_variant_chunk(options.chunk, genome.sizes)
        contigs = ContigMap(vcf.contig_lengths, genome.sizes)
        read = _InputRecords()

        def selected(records: Iterator[Record]) -> Iterator[Record]:
            for record in records:
                read.add(record.chrom, record.pos)
                if in_chunk(chunk, contigs.resolve(record.chrom), record.pos - 1, genome.sizes):
                    yield record

        paths = output_paths(Path(outdir), prefix)
        with staged_outputs(paths) as (staged, stack):
            header = vcf_header(
                vcf.header, model=summary_model, command=command, with_sites=with_sites, with_offsets=shifted
            )
            scorer = AlleleScorer(
                model,
                genome,
                contigs,
                window=window,
                both_strands=both_strands(mode),
                max_n_fraction=options.max_n_fraction,
                batch_size=options.batch_size,
                device=device,
                motifs=motifs,
                motif_threshold=options.motif_threshold,
                edge=options.edge,
            )
            _write_scored(staged, header, scorer, selected(vcf.records()), with_sites)
            index = write_index(staged, stack, paths["vcf"], read.sorted)
            if not index["made"]:
                log.warning("%s: %s, so the scored VCF gets no tabix index", vcf_path, index["reason"])
            for name, note in contigs.notes.items():
                log.warning("%s: contig %s: %s", vcf_path, name, note)
            run = {"vcf": vcf, "read": read, "chunk": chunk, "contigs": contigs, "device": device, "command": command}
            scope = variant_scope(prefix, summary_model, genome_path, vcf_path, options, window, mode, run)
            return finish_report(paths, staged, scope, index, started)


def variant_scope(
    prefix: str, model: dict, genome_path, vcf_path, options: VariantOptions, window: int, mode: str, run: dict
) -> VariantScope:
    """What the run scored and how: inputs, parameters, conventions, chunk, contigs and throughput."""
    return {
        "prefix": prefix,
        "model": model,
        "genome": str(genome_path),
        "vcf": {
            "path": str(vcf_path),
            "records": run["read"].count,
            "header_sha256": run["vcf"].header_sha256,
            "sorted": run["read"].sorted,
        },
        "parameters": _parameters(options, window, mode),
        "conventions": CONVENTIONS,
        "chunks": [chunk_label(run["chunk"])] if run["chunk"] else None,
        "contigs": run["contigs"].report(),
        "throughput": {"seconds": None, "device": str(run["device"]), "batch_size": options.batch_size},
        "command": run["command"],
        "versions": software_versions(),
    }


def _known_motifs(options: VariantOptions):
    """The known motifs whose sites a variant may break or make (JASPAR or a MEME file), or None for no site scan."""
    if not options.motifs:
        return None
    return load_motifs(options.motifs, release=options.jaspar_release, tax_group=options.tax_group)


def _write_scored(
    staged: dict[str, Path], header: str, scorer: AlleleScorer, records: Iterator[Record], with_sites: bool
) -> None:
    """The scored VCF (bgzip) and the scores TSV of the records, with progress on a terminal."""
    import pysam.libcbgzf
    from tqdm.auto import tqdm

    with (
        open(staged["tsv"], "w") as tsv,
        pysam.libcbgzf.BGZFile(str(staged["vcf"]), "wb") as out,
        tqdm(desc="variants", unit=" windows", disable=None, leave=False) as progress,
    ):
        scorer.progress = progress.update
        out.write(header.encode())
        write_scores(tsv, out, scorer, records, with_sites)


def write_scores(tsv, vcf_out, scorer: AlleleScorer, records: Iterator[Record], with_sites: bool) -> None:
    """Score the records group by group; write each group's TSV rows (after the header) and scored VCF lines."""
    tsv.write("\t".join(TSV_COLUMNS) + "\n")
    for group in _batches(records, GROUP_RECORDS):
        results = scorer.score(group)
        tsv.write("".join(tsv_rows(r, a, with_sites) for r, a in zip(group, results)))
        lines = (vcf_line(r, a, with_sites, with_offsets=scorer.edge == "shift") for r, a in zip(group, results))
        vcf_out.write("".join(lines).encode())
        release_free_memory()  # glibc would keep the freed batch buffers (see commands.runtime)


class VariantScope(TypedDict):
    """What a variant run scored and how, as `variants` and `merge-variants` know it before the scores."""

    prefix: str
    model: dict
    genome: str
    vcf: dict
    parameters: dict
    conventions: dict
    chunks: list[str] | None
    contigs: dict
    throughput: dict
    command: str
    versions: dict


class VariantReport(VariantScope):
    """NAME.variants.json: the scope, the summary of the scores (as `VariantSummary`, records as input and reported
    counts) and the files."""

    records: dict
    alleles: dict
    tfbs: dict
    delta_distribution: dict
    top_gains: list[dict]
    top_losses: list[dict]
    outputs: dict


def finish_report(
    paths: dict[str, Path],
    staged: dict[str, Path],
    scope: VariantScope,
    index: dict,
    started: float,
    merged: bool = False,
) -> VariantReport:
    """The run's report from its scope and the summary of the staged TSV, written with the MultiQC files."""
    summary = summarise_scores(staged["tsv"])
    seconds = round(time.perf_counter() - started, 2)
    if merged:
        throughput = {**scope["throughput"], "merge_seconds": seconds}
    else:
        rate = round(summary["alleles"]["total"] / seconds, 1) if seconds else None
        throughput = {**scope["throughput"], "seconds": seconds, "alleles_per_second": rate}
    outputs = {key: path.name for key, path in paths.items()} | {"tbi": index.get("file")}
    report: VariantReport = {
        **scope,
        "throughput": throughput,
        **summary,
        "records": {"input": scope["vcf"]["records"], "reported": summary["records"]},
        "outputs": outputs | ({} if index["made"] else {"tbi_note": index["reason"]}),
    }
    prefix = scope["prefix"]
    write_text(staged["mqc_table"], variants_table_mqc(prefix, report))
    write_json(staged["mqc_deltas"], variants_deltas_mqc(prefix, report["delta_distribution"]))
    write_text(staged["mqc_top"], variants_top_mqc(prefix, report))
    write_json(staged["json"], report)
    return report
