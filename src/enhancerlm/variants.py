"""Variant effect scoring: how much each ALT allele of a VCF changes the enhancer probability around it.

Windows. For a record at 0-based position p = POS - 1 whose REF has r bases, and one of its ALT alleles
with m bases, the reference window is genome[s, s + W) with s = p - W // 2: REF's first base sits at
offset W // 2, the centre of the window for an SNV. The alternative window is

    genome[s, p) + ALT + genome[p + r, ...)   cut or filled to exactly W bases:

the left flank (W // 2 bases) never moves and ALT follows it, so SNVs and MNVs (m = r) change bases in
place, a deletion (m < r) extends the right flank with the genome sequence after the window's end, and an
insertion (m > r) trims the right flank (an insertion of more than W - W // 2 bases fills the rest of the
window and is itself cut). Alleles are used as written (not normalised): a VCF's shared padding base stays
at the centre. Both windows are scored with `predict.score_windows` (both strands averaged unless the
strand mode is `forward`), many records per call.

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
  window_off_contig  the reference or alternative window runs off either end of the contig
  too_many_n         the reference or alternative window has more than `max_n_fraction` non-ACGT bases
  scored             scored

TF sites (with `motifs`): FIMO hits (`motifs.scan_motifs`, p <= threshold, both strands) in the two
windows. REF and ALT are trimmed of their common prefix and suffix; what remains is the changed span of
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
import gzip
import hashlib
import heapq
import logging
import math
import re
import shlex
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .genome import Genome, open_genome
from .io import atomic_path, open_text, write_json, write_text
from .model import load_trained, resolve_device
from .predict import (GROUP_WINDOWS, QUANTILES, SCALE, STRAND_MODES, _AS_N, _model_summary, format_probability,
                      parse_chunk, parse_probabilities, read_reports, release_free_memory, scan_window,
                      score_windows, to_millionths)
from .report import VARIANT_TOP_SECTION, histogram_linegraph, html_section, html_table, table_tsv
from .versions import software_versions

log = logging.getLogger(__name__)

EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS] for the log odds ratio
STATUSES = ("scored", "contig_missing", "outside_contig", "ref_mismatch", "symbolic_allele", "invalid_allele",
            "window_off_contig", "too_many_n")
UNPLACED = "unplaced"  # the chunk of records that no genome chunk holds
GROUP_RECORDS = 10_000  # records read, scored and written at a time
GROUP_TEXT = 32 << 20  # at most about this many characters of VCF lines held at a time
DELTA_BIN = 0.01  # histogram bin width of the delta distribution
TOP = 10  # largest gains and losses listed in the report
SUMMARY_ROWS = 8192  # TSV rows read at a time by the summary (a few MB)
TSV_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "allele_index", "status", "p_ref", "p_alt", "delta", "diff",
               "logor", "tfbs_gain", "tfbs_loss", "record"]
INFO_FIELDS = {
    "ENHLM_PREF": ("Float", "enhancerlm: enhancer probability of the reference window"),
    "ENHLM_PALT": ("Float", "enhancerlm: enhancer probability of the window with this allele"),
    "ENHLM_DELTA": ("Float", "enhancerlm: p_alt - p_ref"),
    "ENHLM_DIFF": ("Float", "enhancerlm: (p_alt - p_ref) x max(p_ref, p_alt), as DNABERT"),
    "ENHLM_LOGOR": ("Float", "enhancerlm: log2 odds(p_ref) - log2 odds(p_alt), p clipped to [1e-6, 1 - 1e-6]; "
                             "positive = loss of enhancer probability"),
    "ENHLM_TFBS_GAIN": ("String", "enhancerlm: TF sites gained at the variant, MOTIFID:NAME:STRAND:P items joined "
                                  "by |, . for none"),
    "ENHLM_TFBS_LOSS": ("String", "enhancerlm: TF sites lost at the variant, MOTIFID:NAME:STRAND:P items joined "
                                  "by |, . for none"),
    "ENHLM_STATUS": ("String", "enhancerlm: scored, or why not: contig_missing, outside_contig, ref_mismatch, "
                               "symbolic_allele, invalid_allele, window_off_contig, too_many_n"),
}
CONVENTIONS = {
    "delta": "p_alt - p_ref",
    "diff": "(p_alt - p_ref) * max(p_ref, p_alt) (DNABERT)",
    "logor": "log2(p_ref / (1 - p_ref)) - log2(p_alt / (1 - p_alt)), probabilities clipped to [eps, 1 - eps]",
    "eps": EPS,
    "sign": "a loss of enhancer probability has delta < 0, diff < 0 and logor > 0",
    "probabilities": "rounded to 6 decimals before delta, diff and logor are computed",
}

_SEQUENCE = re.compile(r"[ACGTNacgtn]+")
_LETTERS = re.compile(r"[A-Za-z]+")
_CONTIG_LENGTH = re.compile(r"^##contig=<(?=.*\bID=([^,>]+))(?=.*\blength=(\d+))", re.IGNORECASE)
_MITOCHONDRIAL = ("MT", "chrM", "chrMT", "M")
_NAME_UNSAFE = re.compile(r"[\s;=,|]")


@dataclass
class VariantOptions:
    """How to score; `None` takes the model card's value (window, strand mode)."""

    window: int | None = None
    strand_mode: str | None = None
    max_n_fraction: float = 0.1
    motifs: str | None = None  # "jaspar" or a MEME file
    jaspar_release: str = "JASPAR2024"
    tax_group: str = "vertebrates"
    motif_threshold: float = 1e-4
    chunk: str | None = None  # CONTIG:START-END or "unplaced"
    batch_size: int = 64
    device: str = "auto"


@dataclass
class Record:
    """One VCF record: its place in the input (1-based), fields, and its text line (no newline)."""

    number: int
    chrom: str
    pos: int
    id: str
    ref: str
    alts: list[str]
    line: str


@dataclass
class Allele:
    """One allele's result: status, probabilities in millionths and TF-site changes (None: not computed)."""

    status: str
    ref_millionths: int | None = None
    alt_millionths: int | None = None
    gain: str | None = None
    loss: str | None = None


# ---------------------------------------------------------------------------- windows


def window_span(pos: int, ref_length: int, alt_length: int, window: int) -> tuple[int, int]:
    """The genome interval [start, end) that the two windows of one allele read (0-based `pos`)."""
    start = pos - window // 2
    return start, max(start + window, pos + ref_length + max(0, window - window // 2 - alt_length))


def allele_windows(context: str, ref_length: int, alt: str, window: int) -> tuple[str, str]:
    """The reference and alternative windows of one allele from `context`, the genome sequence from the window
    start on (at least as far as `window_span` reaches): ALT replaces the REF bases at offset window // 2 and
    the right flank is filled or trimmed to keep `window` bases."""
    offset = window // 2
    return context[:window], (context[:offset] + alt + context[offset + ref_length:])[:window]


def changed_spans(ref: str, alt: str, offset: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where REF and ALT differ once their common prefix and suffix are trimmed: [a, b) in the reference and
    [a, b') in the alternative window (REF starting at `offset`); an empty span marks a junction."""
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    start = offset + prefix
    return (start, offset + len(ref) - suffix), (start, offset + len(alt) - suffix)


def allele_kind(alt: str) -> str | None:
    """None for a sequence allele; otherwise the status that keeps it from being scored."""
    if _SEQUENCE.fullmatch(alt):
        return None
    if alt in (".", "*") or alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic_allele"
    return "invalid_allele"


# ---------------------------------------------------------------------------- contigs


class ContigMap:
    """VCF contig names to genome contig names: the same name, else `chr1` <-> `1` (unless the VCF header gives
    a length that differs from the genome's), and chrM / MT / M only when the header's length equals the
    genome's. `mapping` holds every name looked up; `notes` why a candidate was refused."""

    def __init__(self, vcf_lengths: dict[str, int], genome_sizes: dict[str, int]) -> None:
        self.vcf_lengths = vcf_lengths
        self.sizes = genome_sizes
        self.mapping: dict[str, str | None] = {}
        self.notes: dict[str, str] = {}

    def resolve(self, name: str) -> str | None:
        if name not in self.mapping:
            self.mapping[name] = self._match(name)
        return self.mapping[name]

    def _match(self, name: str) -> str | None:
        length = self.vcf_lengths.get(name)
        if name in self.sizes:
            if length is not None and length != self.sizes[name]:
                self.notes[name] = f"VCF header length {length} differs from the genome's {self.sizes[name]}"
            return name
        mitochondrial = name in _MITOCHONDRIAL
        candidates = [c for c in _MITOCHONDRIAL if c != name] if mitochondrial else [
            name[3:] if name.startswith("chr") else f"chr{name}"]
        for candidate in candidates:
            if candidate not in self.sizes:
                continue
            if length is None and mitochondrial:
                self.notes[name] = f"not mapped to {candidate}: the VCF header gives no length to compare"
            elif length is not None and length != self.sizes[candidate]:
                self.notes[name] = (f"not mapped to {candidate}: VCF header length {length}, genome length "
                                    f"{self.sizes[candidate]}")
            else:
                return candidate
        return None

    def report(self) -> dict:
        return {"mapping": dict(sorted(self.mapping.items())),
                "renamed": {k: v for k, v in sorted(self.mapping.items()) if v is not None and v != k},
                "not_in_genome": sorted(k for k, v in self.mapping.items() if v is None),
                "notes": dict(sorted(self.notes.items()))}


# ---------------------------------------------------------------------------- reading the VCF


class VcfReader:
    """A VCF (plain, gzip or bgzip) or BCF read record by record with cyvcf2.

    Text VCF lines are also read as text, alongside: each is checked before its record is used (htslib
    accepts some malformed fields silently), errors name the line, and the records are written out as they
    came in. BCF records are written as htslib formats them, and errors name the record number.
    """

    def __init__(self, path: str | Path) -> None:
        import cyvcf2

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: VCF not found")
        self.is_text = not _is_bcf(self.path)
        self._text = open_text(self.path) if self.is_text else None
        try:
            self.header = self._read_text_header() if self.is_text else None
            try:
                self._vcf = cyvcf2.VCF(str(self.path), lazy=True)
            except Exception as error:  # cyvcf2 raises bare Exception and OSError for unreadable headers
                raise InputError(f"{self.path}: not a readable VCF or BCF ({error})") from error
        except BaseException:
            if self._text:
                self._text.close()
            raise
        if self.header is None:
            self.header = self._vcf.raw_header
        self.header_lines = self.header.count("\n")
        self.contig_lengths = {m[1]: int(m[2]) for line in self.header.splitlines()
                               if (m := _CONTIG_LENGTH.match(line))}
        self.header_sha256 = hashlib.sha256(self.header.encode()).hexdigest()

    def _read_text_header(self) -> str:
        lines = []
        for number, line in enumerate(self._text, start=1):
            lines.append(line if line.endswith("\n") else line + "\n")
            if line.startswith("#CHROM"):
                return "".join(lines)
            if not line.startswith("##"):
                raise InputError(f"{self.path}: line {number}: expected a ## meta line or the #CHROM header line, "
                                 f"found {line.rstrip()[:60]!r}")
        raise InputError(f"{self.path}: no #CHROM header line")

    def records(self) -> Iterator[Record]:
        """Every record in input order; InputError on a malformed one."""
        records = iter(self._vcf)
        number = 0
        while True:
            line = None
            if self._text is not None:
                line = self._read_line(number)
                if line is None:
                    return
            where = f"line {self.header_lines + number + 1}" if self.is_text else f"record {number + 1}"
            try:
                variant = next(records)
            except StopIteration:
                if line is not None:
                    raise InputError(f"{self.path}: {where}: htslib read no record here") from None
                return
            except Exception as error:
                raise InputError(f"{self.path}: {where}: htslib cannot parse this record ({error})") from error
            number += 1
            if line is not None and int(line.split("\t", 2)[1]) != variant.POS:
                raise InputError(f"{self.path}: {where}: the record could not be read consistently")
            yield Record(number, variant.CHROM, variant.POS, variant.ID or ".", variant.REF,
                         list(variant.ALT) or ["."], line if line is not None else str(variant).rstrip("\n"))

    def _read_line(self, number: int) -> str | None:
        """The next record line, checked; None at the end (blank lines are allowed only there)."""
        where = f"{self.path}: line {self.header_lines + number + 1}"
        try:
            line = self._text.readline()
            if not line:
                return None
            line = line.rstrip("\r\n")
            if not line:
                if any(rest.strip() for rest in self._text):
                    raise InputError(f"{where}: blank line between records")
                return None
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise InputError(f"{where}: cannot read the file ({error})") from error
        reason = check_line(line)
        if reason:
            raise InputError(f"{where}: {reason}")
        return line

    def close(self) -> None:
        if self._text:
            self._text.close()
        self._vcf.close()

    def __enter__(self) -> VcfReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_line(line: str) -> str | None:
    """Why a VCF record line is malformed, or None: the fixed columns that scoring reads are checked."""
    fields = line.split("\t", 8)
    if len(fields) < 8:
        return (f"expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER INFO), found "
                f"{len(fields)}")
    chrom, pos, _, ref, alt, qual = fields[:6]
    if not chrom or any(c.isspace() for c in chrom):
        return f"CHROM is empty or contains white space: {chrom!r}"
    if not pos.isdigit():
        return f"POS is not a non-negative integer: {pos!r}"
    if not _LETTERS.fullmatch(ref):
        return f"REF is not a sequence of bases: {ref!r}"
    if not alt or any(not allele for allele in alt.split(",")):
        return f"ALT is empty or has an empty allele: {alt!r}"
    if qual != "." and not _is_number(qual):
        return f"QUAL is neither a number nor '.': {qual!r}"
    if not all(fields[:8]):
        return "an empty column (use '.' for a missing value)"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_bcf(path: Path) -> bool:
    """BCF (bgzip-compressed or not) by its magic bytes."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(4)
        except (OSError, EOFError):
            return False
    return head[:3] == b"BCF"


# ---------------------------------------------------------------------------- scoring


@dataclass
class AlleleScorer:
    """Scores the alleles of groups of records: windows built from the genome, scored in one call per group."""

    model: object
    genome: Genome
    contigs: ContigMap
    window: int
    both_strands: bool
    max_n_fraction: float
    batch_size: int
    device: object
    motifs: list | None = None
    motif_threshold: float = 1e-4
    progress: Callable[[int], object] | None = None  # told how many windows each scoring call scored
    _max_width: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.motifs:
            self._max_width = max(len(m.pfm) for m in self.motifs)

    def score(self, records: list[Record]) -> list[list[Allele]]:
        """Each record's alleles, in order."""
        results: list[list[Allele]] = []
        rows: list[bytes] = []
        pending: list[tuple[Allele, int, int, str, str, str, str]] = []  # allele, ref row, alt row, windows, REF, ALT
        limit = self.max_n_fraction * self.window
        for record in records:
            alleles = [Allele(status) for status in self._record_statuses(record)]
            results.append(alleles)
            if all(a.status for a in alleles):
                continue
            chrom, pos = self.contigs.resolve(record.chrom), record.pos - 1
            size = self.genome.sizes[chrom]
            spans = {i: window_span(pos, len(record.ref), len(record.alts[i]), self.window)
                     for i, a in enumerate(alleles) if not a.status}
            start, end = pos - self.window // 2, max(high for _, high in spans.values())
            context = self.genome.fetch(chrom, start, min(end, size)) if start >= 0 else ""  # off-contig: unused
            ref_row = None
            for i, (low, high) in spans.items():
                if low < 0 or high > size:
                    alleles[i].status = "window_off_contig"
                    continue
                ref_window, alt_window = allele_windows(context, len(record.ref), record.alts[i].upper(), self.window)
                if _non_acgt(ref_window) > limit or _non_acgt(alt_window) > limit:
                    alleles[i].status = "too_many_n"
                    continue
                alleles[i].status = "scored"
                if ref_row is None:
                    ref_row = len(rows)
                    rows.append(ref_window.encode("ascii"))
                rows.append(alt_window.encode("ascii"))
                pending.append((alleles[i], ref_row, len(rows) - 1, ref_window, alt_window, record.ref.upper(),
                                record.alts[i].upper()))
        if pending:
            millionths = self._probabilities(rows)
            for allele, ref_row, alt_row, *_ in pending:
                allele.ref_millionths, allele.alt_millionths = millionths[ref_row], millionths[alt_row]
            if self.motifs:
                self._site_changes(pending)
        return results

    def _probabilities(self, rows: list[bytes]) -> list[int]:
        """Probabilities (millionths) of the windows, scored a few thousand at a time as `predict` does."""
        step = self.batch_size * max(1, GROUP_WINDOWS // self.batch_size)
        millionths: list[int] = []
        for first in range(0, len(rows), step):
            part = rows[first : first + step]
            windows = _AS_N[np.frombuffer(b"".join(part), dtype=np.uint8).reshape(len(part), self.window)]
            millionths += to_millionths(score_windows(self.model, windows, both_strands=self.both_strands,
                                                      batch_size=self.batch_size, device=self.device)).tolist()
            if self.progress:
                self.progress(len(part))
        return millionths

    def _record_statuses(self, record: Record) -> list[str | None]:
        """The status of each allele that is decided before windows are built (None: still to be scored)."""
        chrom = self.contigs.resolve(record.chrom)
        if chrom is None:
            return ["contig_missing"] * len(record.alts)
        pos, size = record.pos - 1, self.genome.sizes[chrom]
        if pos < 0 or pos + len(record.ref) > size:
            return ["outside_contig"] * len(record.alts)
        if self.genome.fetch(chrom, pos, pos + len(record.ref)) != record.ref.upper():
            return ["ref_mismatch"] * len(record.alts)
        return [allele_kind(alt) for alt in record.alts]

    def _site_changes(self, pending: list) -> None:
        """TF sites lost and gained by each scored allele (see the module docstring)."""
        from .motifs import scan_motifs

        reach = self._max_width - 1
        sequences, offsets, spans = [], [], []
        for _, _, _, ref_window, alt_window, ref, alt in pending:
            for sequence, span in zip((ref_window, alt_window), changed_spans(ref, alt, self.window // 2)):
                low = max(0, min(span[0], self.window) - reach)
                high = min(self.window, max(span[1], span[0] + 1) + reach)
                sequences.append(sequence[low:high])
                offsets.append(low)
                spans.append(span)
        hits = scan_motifs(self.motifs, sequences, threshold=self.motif_threshold)
        touching = _touching_sites(hits, np.asarray(offsets), np.asarray(spans))
        for index, (allele, *_) in enumerate(pending):
            ref_sites, alt_sites = touching.get(2 * index, {}), touching.get(2 * index + 1, {})
            allele.loss = _site_items({k: p for k, p in ref_sites.items() if k not in alt_sites})
            allele.gain = _site_items({k: p for k, p in alt_sites.items() if k not in ref_sites})


def _non_acgt(window: str) -> int:
    return len(window) - window.count("A") - window.count("C") - window.count("G") - window.count("T")


def _touching_sites(hits: pd.DataFrame, offsets: np.ndarray, spans: np.ndarray) -> dict[int, dict]:
    """Per scanned sequence, {(motif id, name, strand): best p} of the hits overlapping its changed span."""
    if not len(hits):
        return {}
    index = hits["sequence"].to_numpy(dtype=int)
    start = hits["start"].to_numpy(dtype=int) + offsets[index]
    end = hits["end"].to_numpy(dtype=int) + offsets[index]
    low, high = spans[index, 0], spans[index, 1]
    overlaps = np.where(low < high, (start < high) & (end > low), (start < low) & (end > low))
    chosen = hits[overlaps]
    best = chosen.groupby(["sequence", "motif_id", "motif_name", "strand"], sort=True)["p_value"].min()
    touching: dict[int, dict] = {}
    for (sequence, motif_id, name, strand), p in best.items():
        touching.setdefault(int(sequence), {})[(motif_id, name, strand)] = float(p)
    return touching


def _site_items(sites: dict) -> str:
    """MOTIFID:NAME:STRAND:P items, best p first, joined by |; `.` for none."""
    if not sites:
        return "."
    items = sorted(sites.items(), key=lambda item: (item[1], item[0]))
    return "|".join(f"{_NAME_UNSAFE.sub('_', motif_id)}:{_NAME_UNSAFE.sub('_', name)}:{strand}:{p:.3g}"
                    for (motif_id, name, strand), p in items)


# ---------------------------------------------------------------------------- formatting


def score_fields(ref_millionths: int, alt_millionths: int) -> dict[str, str]:
    """p_ref, p_alt, delta, diff and logor as written (6 decimals), from probabilities in millionths."""
    delta = alt_millionths - ref_millionths
    p_ref, p_alt = (min(max(m / SCALE, EPS), 1 - EPS) for m in (ref_millionths, alt_millionths))
    logor = math.log2(p_ref / (1 - p_ref)) - math.log2(p_alt / (1 - p_alt))
    return {"p_ref": format_probability(ref_millionths), "p_alt": format_probability(alt_millionths),
            "delta": ("-" if delta < 0 else "") + format_probability(abs(delta)),
            "diff": _decimal(delta * max(ref_millionths, alt_millionths) / SCALE / SCALE), "logor": _decimal(logor)}


def _decimal(value: float) -> str:
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text


def tsv_rows(record: Record, alleles: list[Allele], with_sites: bool) -> str:
    """The record's TSV rows, one per allele."""
    lines = []
    for index, (alt, allele) in enumerate(zip(record.alts, alleles), start=1):
        scores = dict.fromkeys(("p_ref", "p_alt", "delta", "diff", "logor"), "")
        if allele.status == "scored":
            scores = score_fields(allele.ref_millionths, allele.alt_millionths)
        sites = (allele.gain, allele.loss) if with_sites and allele.status == "scored" else ("", "")
        lines.append("\t".join([record.chrom, str(record.pos), record.id, record.ref, alt, str(index), allele.status,
                                *scores.values(), *sites, str(record.number)]))
    return "".join(line + "\n" for line in lines)


def vcf_line(record: Record, alleles: list[Allele], with_sites: bool) -> str:
    """The record's line with the ENHLM_ INFO fields (Number=A: a value per ALT, `.` where unscored)."""
    fields = record.line.split("\t")
    scores = [score_fields(a.ref_millionths, a.alt_millionths) if a.status == "scored" else None for a in alleles]
    values = {"ENHLM_PREF": [s["p_ref"] if s else "." for s in scores],
              "ENHLM_PALT": [s["p_alt"] if s else "." for s in scores],
              "ENHLM_DELTA": [s["delta"] if s else "." for s in scores],
              "ENHLM_DIFF": [s["diff"] if s else "." for s in scores],
              "ENHLM_LOGOR": [s["logor"] if s else "." for s in scores]}
    if with_sites:
        values["ENHLM_TFBS_GAIN"] = [a.gain if a.gain else "." for a in alleles]
        values["ENHLM_TFBS_LOSS"] = [a.loss if a.loss else "." for a in alleles]
    values["ENHLM_STATUS"] = [a.status for a in alleles]
    kept = [item for item in fields[7].split(";") if item != "." and not item.startswith("ENHLM_")]
    fields[7] = ";".join(kept + [f"{key}={','.join(value)}" for key, value in values.items()])
    return "\t".join(fields) + "\n"


def vcf_header(header: str, *, model: dict, command: str, with_sites: bool) -> str:
    """The input header without earlier enhancerlm lines, plus provenance and the ENHLM_ INFO definitions."""
    lines = [line for line in header.splitlines()
             if not line.startswith(("##enhancerlm_", "##INFO=<ID=ENHLM_")) and line.strip()]
    added = [f"##enhancerlm_version={__version__}", f"##enhancerlm_model={model['id']}",
             f"##enhancerlm_weights_sha256={_weights_digest(model)}", f"##enhancerlm_command={command}"]
    for key, (kind, description) in INFO_FIELDS.items():
        if with_sites or not key.startswith("ENHLM_TFBS"):
            added.append(f'##INFO=<ID={key},Number=A,Type={kind},Description="{description}">')
    return "\n".join(lines[:-1] + added + lines[-1:]) + "\n"


def _weights_digest(model: dict) -> str:
    """The weights' sha256; for an ensemble without one, its members' joined by `+`."""
    if model.get("weights_sha256"):
        return model["weights_sha256"]
    return "+".join(m.get("weights_sha256") or "none" for m in model.get("members", [])) or "none"


# ---------------------------------------------------------------------------- summaries


class DeltaCounts:
    """How many alleles got each delta (in millionths, -1 to 1): exact quantiles and a histogram in 16 MB."""

    def __init__(self) -> None:
        self.counts = np.zeros(2 * SCALE + 1, dtype=np.int64)

    def add(self, millionths: np.ndarray) -> None:
        self.counts += np.bincount(millionths + SCALE, minlength=2 * SCALE + 1)

    def summary(self) -> dict:
        total = int(self.counts.sum())
        width = round(DELTA_BIN * SCALE)
        edges = np.arange(0, 2 * SCALE, width)
        counts = np.add.reduceat(self.counts[: 2 * SCALE], edges)
        counts[-1] += self.counts[2 * SCALE]  # delta 1.0 goes into the last bin
        result = {"scored": total, "bin_width": DELTA_BIN, "bins": [round(edge / SCALE - 1, 2) for edge in edges],
                  "counts": counts.tolist(), "quantiles": {}, "mean": None, "min": None, "max": None}
        if total:
            cumulative = np.cumsum(self.counts)
            present = np.flatnonzero(self.counts)
            result["quantiles"] = {str(q): (int(np.searchsorted(cumulative, max(1, math.ceil(q * total)))) - SCALE)
                                   / SCALE for q in QUANTILES}
            result["mean"] = float(self.counts @ (np.arange(2 * SCALE + 1) - SCALE)) / SCALE / total
            result["min"], result["max"] = (int(present[0]) - SCALE) / SCALE, (int(present[-1]) - SCALE) / SCALE
        return result


def summarise_scores(tsv: Path) -> dict:
    """Counts by status, the delta distribution and the largest gains and losses, from a scores TSV.

    Both a run and a merge of chunks summarise their final TSV this way, so the two reports agree.
    """
    statuses = dict.fromkeys(STATUSES, 0)
    records = alleles = with_loss = with_gain = 0
    deltas = DeltaCounts()
    gains, losses = pd.DataFrame(), pd.DataFrame()
    for frame in pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False, chunksize=SUMMARY_ROWS):
        alleles += len(frame)
        records += int((frame["allele_index"] == "1").sum())
        for status, count in frame["status"].value_counts().items():
            statuses[status] = statuses.get(status, 0) + int(count)
        scored = frame[frame["status"] == "scored"].copy()
        with_loss += int((~scored["tfbs_loss"].isin(["", "."])).sum())
        with_gain += int((~scored["tfbs_gain"].isin(["", "."])).sum())
        scored["delta_millionths"] = parse_probabilities(scored["delta"]) if len(scored) else []
        scored["record_number"] = scored["record"].astype(np.int64)
        scored["allele_number"] = scored["allele_index"].astype(np.int64)
        deltas.add(scored["delta_millionths"].to_numpy(dtype=np.int64))
        gains = _top([gains, scored[scored["delta_millionths"] > 0]], largest=True)
        losses = _top([losses, scored[scored["delta_millionths"] < 0]], largest=False)
    return {"records": records, "alleles": {"total": alleles, "scored": statuses["scored"],
                                            "skipped": alleles - statuses["scored"], "by_status": statuses},
            "tfbs": {"alleles_with_loss": with_loss, "alleles_with_gain": with_gain},
            "delta_distribution": deltas.summary(), "top_gains": _top_rows(gains), "top_losses": _top_rows(losses)}


def _top(frames: list[pd.DataFrame], *, largest: bool) -> pd.DataFrame:
    """The TOP rows with the largest (or smallest) delta; ties go to the earlier record and allele."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    return frame.sort_values(["delta_millionths", "record_number", "allele_number"],
                             ascending=[not largest, True, True], kind="stable").head(TOP)


def _top_rows(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for row in frame.to_dict("records"):
        rows.append({"chrom": row["chrom"], "pos": int(row["pos"]), "id": row["id"], "ref": row["ref"],
                     "alt": row["alt"], "allele_index": int(row["allele_index"]), "record": int(row["record"]),
                     "p_ref": float(row["p_ref"]), "p_alt": float(row["p_alt"]), "delta": float(row["delta"]),
                     "diff": float(row["diff"]), "logor": float(row["logor"]),
                     "tfbs_gain": row["tfbs_gain"] or None, "tfbs_loss": row["tfbs_loss"] or None})
    return rows


def multiqc_table(prefix: str, report: dict) -> str:
    """MultiQC custom content: a table row of records, alleles and alleles by status."""
    statuses = report["alleles"]["by_status"]
    columns = {"Records": report["records"]["reported"], "Alleles": report["alleles"]["total"],
               **{status.replace("_", " ").capitalize(): statuses[status] for status in STATUSES}}
    return table_tsv("enhancerlm_variants", "enhancerlm: variant scoring",
                     "VCF records and alleles, by scoring status (scored, or why not).", prefix, columns)


def multiqc_top(prefix: str, report: dict) -> str:
    """MultiQC custom content (HTML): the alleles that raise and lower enhancer probability most, with the TF
    sites they gain and lose."""
    header = ["variant", "id", "p_ref", "p_alt", "delta", "TF sites lost", "TF sites gained"]

    def rows(top: list[dict]) -> list[list]:
        return [[f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']}", row["id"], f"{row['p_ref']:.4f}",
                 f"{row['p_alt']:.4f}", f"{row['delta']:+.4f}", _site_names(row["tfbs_loss"]),
                 _site_names(row["tfbs_gain"])] for row in top]

    body = (f"<h4>Largest gains</h4>\n{html_table('enhancerlm-variant-top', header, rows(report['top_gains']), empty='No allele raises the probability.')}"
            f"<h4>Largest losses</h4>\n{html_table('enhancerlm-variant-top', header, rows(report['top_losses']), empty='No allele lowers the probability.')}")
    return html_section(VARIANT_TOP_SECTION, f"enhancerlm_variant_top_{prefix}", f"Strongest effects: {prefix}",
                        "Alleles with the largest change in enhancer probability (delta = p_alt - p_ref), and the "
                        "known TF sites (FIMO p < threshold) each one destroys or creates.", body)


def _site_names(sites: str | None, shown: int = 5) -> str:
    """`MA0139.2:CTCF:+:1e-05|...` as `CTCF (+), ...`, the first few, with how many more."""
    if not sites or sites == ".":
        return ""
    names = [f"{':'.join(parts[1:-2])} ({parts[-2]})" for parts in (site.split(":") for site in sites.split("|"))]
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def multiqc_deltas(prefix: str, distribution: dict) -> dict:
    """MultiQC custom content: the distribution of delta = p_alt - p_ref as a line graph (x: bin centre)."""
    return histogram_linegraph("enhancerlm_variant_deltas", "enhancerlm: variant effects", prefix, distribution,
                               description="Change in enhancer probability (p_alt - p_ref) of the scored alleles.",
                               title="enhancerlm: variant effect (delta)", xlab="p_alt - p_ref (bin centre)",
                               ylab="Alleles", xmin=-1, xmax=1)


# ---------------------------------------------------------------------------- outputs


def output_paths(outdir: Path, prefix: str) -> dict[str, Path]:
    """Every file a run writes (the index apart); the json first, so that it is moved into place last."""
    names = {"json": "variants.json", "tsv": "scores.tsv", "vcf": "scored.vcf.gz",
             "mqc_table": "variants_mqc.tsv", "mqc_deltas": "variant_deltas_mqc.json",
             "mqc_top": "variant_top_mqc.html"}
    return {key: outdir / f"{prefix}.{name}" for key, name in names.items()}


@contextlib.contextmanager
def staged_outputs(paths: dict[str, Path]) -> Iterator[tuple[dict[str, Path], contextlib.ExitStack]]:
    """Temporary files for all outputs, renamed into place together (in reverse order) only on success; the
    stack stages more (the tabix index, once it is known that one can be built)."""
    with contextlib.ExitStack() as stack:
        yield {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}, stack


def write_index(staged: dict[str, Path], stack: contextlib.ExitStack, final_vcf: Path, sortable: bool) -> dict:
    """Stage a tabix index of the staged VCF when the records are sorted; an earlier index is removed if not."""
    import pysam

    index = Path(f"{final_vcf}.tbi")
    if not sortable:
        index.unlink(missing_ok=True)
        return {"made": False, "reason": "the input records are not sorted by contig and position"}
    staged["tbi"] = stack.enter_context(atomic_path(index))
    try:
        pysam.tabix_index(str(staged["vcf"]), preset="vcf", index=str(staged["tbi"]), force=True)
    except OSError as error:
        raise InputError(f"{final_vcf}: cannot build the tabix index ({error})") from error
    return {"made": True, "file": index.name}


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


def _command(model_spec: str, genome: str | Path, vcf: str | Path, outdir: str | Path, prefix: str,
             options: VariantOptions, window: int, strand_mode: str, fai: str | Path | None,
             gzi: str | Path | None) -> str:
    """The command that repeats this run (the effective window and strand mode spelled out)."""
    words = ["enhancerlm", "variants", "--model", model_spec, "--genome", str(genome), "--vcf", str(vcf),
             "--outdir", str(outdir), "--prefix", prefix, "--window", str(window), "--strand-mode", strand_mode,
             "--max-n-fraction", str(options.max_n_fraction)]
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


def _parameters(options: VariantOptions, window: int, strand_mode: str) -> dict:
    """The settings that decide the scores (chunks merge only when these agree)."""
    motifs = options.motifs
    return {"window": window, "strand_mode": strand_mode, "max_n_fraction": options.max_n_fraction,
            "eps": EPS, "motifs": motifs, "motif_threshold": options.motif_threshold if motifs else None,
            "jaspar_release": options.jaspar_release if motifs and motifs.lower() == "jaspar" else None,
            "tax_group": options.tax_group if motifs and motifs.lower() == "jaspar" else None}


# ---------------------------------------------------------------------------- the two entry points


def score_variants(model_spec: str, genome_path: str | Path, vcf_path: str | Path, outdir: str | Path, *,
                   prefix: str | None = None, options: VariantOptions | None = None,
                   fai: str | Path | None = None, gzi: str | Path | None = None) -> dict:
    """Score every ALT allele of a VCF (or of one chunk of it) with a trained model; write the scored VCF and
    its index, the scores TSV, the report and MultiQC content. Returns the report (NAME.variants.json)."""
    from tqdm.auto import tqdm

    options = options or VariantOptions()
    started = time.perf_counter()
    model = load_trained(model_spec)
    window = scan_window(model, options.window)
    strand_mode = options.strand_mode or (model.card.get("strand_mode") if model.card.get("strand_mode") in
                                          STRAND_MODES else "both")
    if strand_mode not in STRAND_MODES:
        raise InputError(f"--strand-mode must be one of {', '.join(STRAND_MODES)}, got {strand_mode!r}")
    prefix = prefix or vcf_stem(vcf_path)
    device = resolve_device(options.device)
    motifs = None
    if options.motifs:
        from .motifs import load_motifs

        motifs = load_motifs(options.motifs, release=options.jaspar_release, tax_group=options.tax_group)
    summary_model = _model_summary(model, model_spec)
    command = _command(model_spec, genome_path, vcf_path, outdir, prefix, options, window, strand_mode, fai, gzi)
    with_sites = motifs is not None
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
            import pysam.libcbgzf

            with open(staged["tsv"], "w") as tsv, pysam.libcbgzf.BGZFile(str(staged["vcf"]), "wb") as out, \
                    tqdm(desc="variants", unit=" windows", disable=None, leave=False) as progress:
                scorer = AlleleScorer(model, genome, contigs, window=window, both_strands=strand_mode == "both",
                                      max_n_fraction=options.max_n_fraction, batch_size=options.batch_size,
                                      device=device, motifs=motifs, motif_threshold=options.motif_threshold,
                                      progress=progress.update)
                tsv.write("\t".join(TSV_COLUMNS) + "\n")
                out.write(vcf_header(vcf.header, model=summary_model, command=command,
                                     with_sites=with_sites).encode())
                for group in _batches(selected(vcf.records()), GROUP_RECORDS):
                    results = scorer.score(group)
                    tsv.write("".join(tsv_rows(r, a, with_sites) for r, a in zip(group, results)))
                    out.write("".join(vcf_line(r, a, with_sites) for r, a in zip(group, results)).encode())
                    release_free_memory()  # glibc would keep the freed batch buffers (see predict)
            index = write_index(staged, stack, paths["vcf"], read.sorted)
            if not index["made"]:
                log.warning("%s: %s, so the scored VCF gets no tabix index", vcf_path, index["reason"])
            for name, note in contigs.notes.items():
                log.warning("%s: contig %s: %s", vcf_path, name, note)
            report = {
                "prefix": prefix,
                "model": summary_model,
                "genome": str(genome_path),
                "vcf": {"path": str(vcf_path), "records": read.count, "header_sha256": vcf.header_sha256,
                        "sorted": read.sorted},
                "parameters": _parameters(options, window, strand_mode),
                "conventions": CONVENTIONS,
                "chunks": [chunk_label(chunk)] if chunk else None,
                "contigs": contigs.report(),
                "throughput": {"seconds": None, "device": str(device), "batch_size": options.batch_size},
                "command": command,
                "versions": software_versions(),
            }
            return _finish_report(paths, staged, report, index, prefix, started)


def merge_variants(inputs: list[str | Path], outdir: str | Path, *, prefix: str) -> dict:
    """Gather the outputs of chunked runs into the files one unchunked run writes: the TSV and the VCF records
    in input order, byte for byte; every input record must be in exactly one chunk."""
    started = time.perf_counter()
    reports = _read_reports(inputs)
    first_path, first = reports[0]
    for path, report in reports[1:]:
        for key in ("model", "parameters"):
            if report[key] != first[key]:
                raise InputError(f"{path}: its {key} differ from those of {first_path}; these runs cannot be merged")
        if (report["vcf"]["records"], report["vcf"]["header_sha256"]) != (first["vcf"]["records"],
                                                                          first["vcf"]["header_sha256"]):
            raise InputError(f"{path}: scored another VCF than {first_path} (record count or header differ)")
    labels = [label for _, r in reports for label in (r["chunks"] or ["(unchunked)"])]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError(f"chunk {repeated[0]} is among the inputs more than once")
    expected = first["vcf"]["records"]
    command = shlex.join(["enhancerlm", "merge-variants", *[a for i in inputs for a in ("--input", str(i))],
                          "--outdir", str(outdir), "--prefix", prefix])
    paths = output_paths(Path(outdir), prefix)
    with staged_outputs(paths) as (staged, stack):
        import pysam.libcbgzf

        with contextlib.ExitStack() as readers, open(staged["tsv"], "w") as tsv, \
                pysam.libcbgzf.BGZFile(str(staged["vcf"]), "wb") as out:
            streams = [_chunk_records(path.parent / report["outputs"]["tsv"], path.parent / report["outputs"]["vcf"],
                                      readers) for path, report in reports]
            header = _vcf_header_of(first_path.parent / first["outputs"]["vcf"])
            out.write(_replace_command(header, command).encode())
            tsv.write("\t".join(TSV_COLUMNS) + "\n")
            written = 0
            for number, rows, line, source in heapq.merge(*streams, key=lambda item: item[0]):
                if number != written + 1:
                    _missing_or_repeated(number, written, source)
                tsv.write(rows)
                out.write(line.encode())
                written = number
        if written != expected:
            if written > expected:
                raise InputError(f"the chunks hold {written} records, but the input VCF has {expected}")
            _missing_or_repeated(expected + 1, written, None)
        index = write_index(staged, stack, paths["vcf"], all(r["vcf"]["sorted"] for _, r in reports))
        report = {
            "prefix": prefix,
            "model": first["model"],
            "genome": first["genome"],
            "vcf": {key: first["vcf"][key] for key in ("path", "records", "header_sha256", "sorted")},
            "parameters": first["parameters"],
            "conventions": CONVENTIONS,
            "chunks": sorted(labels),
            "contigs": _merged_contigs([r["contigs"] for _, r in reports]),
            "throughput": {"seconds": round(sum(r["throughput"]["seconds"] for _, r in reports), 2),
                           "device": first["throughput"]["device"], "batch_size": first["throughput"]["batch_size"],
                           "merged_inputs": len(reports)},
            "command": command,
            "versions": software_versions(),
        }
        return _finish_report(paths, staged, report, index, prefix, started, merged=True)


def _finish_report(paths: dict[str, Path], staged: dict[str, Path], report: dict, index: dict, prefix: str,
                   started: float, merged: bool = False) -> dict:
    """Summarise the staged TSV into the report and write it with the MultiQC files."""
    summary = summarise_scores(staged["tsv"])
    report["records"] = {"input": report["vcf"]["records"], "reported": summary.pop("records")}
    report.update(summary)
    report["outputs"] = {key: path.name for key, path in paths.items()}
    report["outputs"]["tbi"] = index.get("file")
    if not index["made"]:
        report["outputs"]["tbi_note"] = index["reason"]
    seconds = round(time.perf_counter() - started, 2)
    report["throughput"]["merge_seconds" if merged else "seconds"] = seconds
    if not merged:
        report["throughput"]["alleles_per_second"] = round(report["alleles"]["total"] / seconds, 1) if seconds else None
    write_text(staged["mqc_table"], multiqc_table(prefix, report))
    write_json(staged["mqc_deltas"], multiqc_deltas(prefix, report["delta_distribution"]))
    write_text(staged["mqc_top"], multiqc_top(prefix, report))
    write_json(staged["json"], report)
    return report


def vcf_stem(path: str | Path) -> str:
    """A VCF's file name without .vcf, .vcf.gz, .vcf.bgz or .bcf."""
    name = Path(path).name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _read_reports(inputs: list[str | Path]) -> list[tuple[Path, dict]]:
    """The variants.json of each input, whose TSV and VCF must be beside it."""
    reports = read_reports(inputs, "variants")
    for path, report in reports:
        for key in ("tsv", "vcf"):
            if not (path.parent / report["outputs"][key]).is_file():
                raise InputError(f"{path}: its {key} file {report['outputs'][key]} is missing")
    return reports


def _chunk_records(tsv: Path, vcf: Path, stack: contextlib.ExitStack) -> Iterator[tuple[int, str, str, Path]]:
    """(record number, its TSV rows, its VCF line, source) of one chunk's outputs, in order."""
    rows = stack.enter_context(open(tsv))
    lines = stack.enter_context(gzip.open(vcf, "rt"))
    next(rows)
    body = (line for line in lines if not line.startswith("#"))
    current, text = None, []
    for row in rows:
        number = int(row.rsplit("\t", 1)[1])
        if current is not None and number != current:
            yield current, "".join(text), _next_line(body, vcf), tsv
            text = []
        current = number
        text.append(row)
    if current is not None:
        yield current, "".join(text), _next_line(body, vcf), tsv
    if next(body, None) is not None:
        raise InputError(f"{vcf}: has more records than {tsv}")


def _next_line(body: Iterator[str], vcf: Path) -> str:
    line = next(body, None)
    if line is None:
        raise InputError(f"{vcf}: has fewer records than its scores TSV")
    return line


def _vcf_header_of(path: Path) -> str:
    lines = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            lines.append(line)
            if line.startswith("#CHROM"):
                break
    return "".join(lines)


def _replace_command(header: str, command: str) -> str:
    return "".join(f"##enhancerlm_command={command}\n" if line.startswith("##enhancerlm_command=") else line
                   for line in header.splitlines(keepends=True))


def _missing_or_repeated(number: int, written: int, source: Path | None) -> None:
    if number <= written:
        raise InputError(f"{source}: record {number} of the input VCF is also in another chunk; the chunks overlap")
    missing = f"{written + 1}" if number == written + 2 else f"{written + 1}-{number - 1}"
    raise InputError(f"records {missing} of the input VCF are in no chunk: give chunks covering every contig "
                     f"of the genome, plus --chunk {UNPLACED} for records off the genome")


def _merged_contigs(reports: list[dict]) -> dict:
    mapping = {k: v for r in reports for k, v in r["mapping"].items()}
    notes = {k: v for r in reports for k, v in r["notes"].items()}
    return {"mapping": dict(sorted(mapping.items())),
            "renamed": {k: v for k, v in sorted(mapping.items()) if v is not None and v != k},
            "not_in_genome": sorted(k for k, v in mapping.items() if v is None), "notes": dict(sorted(notes.items()))}
