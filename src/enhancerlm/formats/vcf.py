"""VCF and BCF in and out: the streaming reader with per-line checks, contig-name mapping to the genome, the
scored VCF's header and lines, and its tabix index."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from enhancerlm import __version__
from enhancerlm.core.probability import score_fields
from enhancerlm.errors import InputError
from enhancerlm.formats.files import atomic_path, open_text

UNPLACED = "unplaced"  # the chunk of records that no genome chunk holds


INFO_FIELDS = {
    "ENHLM_PREF": ("Float", "enhancerlm: enhancer probability of the reference window"),
    "ENHLM_PALT": ("Float", "enhancerlm: enhancer probability of the window with this allele"),
    "ENHLM_DELTA": ("Float", "enhancerlm: p_alt - p_ref"),
    "ENHLM_DIFF": ("Float", "enhancerlm: (p_alt - p_ref) x max(p_ref, p_alt), as DNABERT"),
    "ENHLM_LOGOR": (
        "Float",
        "enhancerlm: log2 odds(p_ref) - log2 odds(p_alt), p clipped to [1e-6, 1 - 1e-6]; "
        "positive = loss of enhancer probability",
    ),
    "ENHLM_TFBS_GAIN": (
        "String",
        "enhancerlm: TF sites gained at the variant, MOTIFID:NAME:STRAND:P items joined by |, . for none",
    ),
    "ENHLM_TFBS_LOSS": (
        "String",
        "enhancerlm: TF sites lost at the variant, MOTIFID:NAME:STRAND:P items joined by |, . for none",
    ),
    "ENHLM_OFFSET": (
        "Integer",
        "enhancerlm: 0-based offset of REF's first base in the scored windows; the window was slid inside the "
        "contig where it differs from half the window (--edge shift)",
    ),
    "ENHLM_STATUS": (
        "String",
        "enhancerlm: scored, or why not: contig_missing, outside_contig, ref_mismatch, "
        "symbolic_allele, invalid_allele, window_off_contig, too_many_n",
    ),
}


SEQUENCE = re.compile(r"[ACGTNacgtn]+")


_LETTERS = re.compile(r"[A-Za-z]+")


_CONTIG_LENGTH = re.compile(r"^##contig=<(?=.*\bID=([^,>]+))(?=.*\blength=(\d+))", re.IGNORECASE)


_MITOCHONDRIAL = ("MT", "chrM", "chrMT", "M")


NAME_UNSAFE = re.compile(r"[\s;=,|]")


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
    offset: int | None = None  # REF's first base in the allele's windows (None: no window was built)


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
        candidates = (
            [c for c in _MITOCHONDRIAL if c != name]
            if mitochondrial
            else [name[3:] if name.startswith("chr") else f"chr{name}"]
        )
        for candidate in candidates:
            if candidate not in self.sizes:
                continue
            if length is None and mitochondrial:
                self.notes[name] = f"not mapped to {candidate}: the VCF header gives no length to compare"
            elif length is not None and length != self.sizes[candidate]:
                self.notes[name] = (
                    f"not mapped to {candidate}: VCF header length {length}, genome length {self.sizes[candidate]}"
                )
            else:
                return candidate
        return None

    def report(self) -> dict:
        return {
            "mapping": dict(sorted(self.mapping.items())),
            "renamed": {k: v for k, v in sorted(self.mapping.items()) if v is not None and v != k},
            "not_in_genome": sorted(k for k, v in self.mapping.items() if v is None),
            "notes": dict(sorted(self.notes.items())),
        }


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
        self.contig_lengths = {
            m[1]: int(m[2]) for line in self.header.splitlines() if (m := _CONTIG_LENGTH.match(line))
        }
        self.header_sha256 = hashlib.sha256(self.header.encode()).hexdigest()

    def _read_text_header(self) -> str:
        lines = []
        for number, line in enumerate(self._text, start=1):
            lines.append(line if line.endswith("\n") else line + "\n")
            if line.startswith("#CHROM"):
                return "".join(lines)
            if not line.startswith("##"):
                raise InputError(
                    f"{self.path}: line {number}: expected a ## meta line or the #CHROM header line, "
                    f"found {line.rstrip()[:60]!r}"
                )
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
            yield Record(
                number,
                variant.CHROM,
                variant.POS,
                variant.ID or ".",
                variant.REF,
                list(variant.ALT) or ["."],
                line if line is not None else str(variant).rstrip("\n"),
            )

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
        return f"expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER INFO), found {len(fields)}"
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


def vcf_line(record: Record, alleles: list[Allele], with_sites: bool, with_offsets: bool = False) -> str:
    """The record's line with the ENHLM_ INFO fields (Number=A: a value per ALT, `.` where unscored); TF sites
    and window offsets only when the run reports them."""
    fields = record.line.split("\t")
    scores = [score_fields(a.ref_millionths, a.alt_millionths) if a.status == "scored" else None for a in alleles]
    values = {
        "ENHLM_PREF": [s["p_ref"] if s else "." for s in scores],
        "ENHLM_PALT": [s["p_alt"] if s else "." for s in scores],
        "ENHLM_DELTA": [s["delta"] if s else "." for s in scores],
        "ENHLM_DIFF": [s["diff"] if s else "." for s in scores],
        "ENHLM_LOGOR": [s["logor"] if s else "." for s in scores],
    }
    if with_sites:
        values["ENHLM_TFBS_GAIN"] = [a.gain if a.gain else "." for a in alleles]
        values["ENHLM_TFBS_LOSS"] = [a.loss if a.loss else "." for a in alleles]
    if with_offsets:
        values["ENHLM_OFFSET"] = [str(a.offset) if a.status == "scored" else "." for a in alleles]
    values["ENHLM_STATUS"] = [a.status for a in alleles]
    kept = [item for item in fields[7].split(";") if item != "." and not item.startswith("ENHLM_")]
    fields[7] = ";".join(kept + [f"{key}={','.join(value)}" for key, value in values.items()])
    return "\t".join(fields) + "\n"


def vcf_header(header: str, *, model: dict, command: str, with_sites: bool, with_offsets: bool = False) -> str:
    """The input header without earlier enhancerlm lines, plus provenance and the ENHLM_ INFO definitions."""
    lines = [
        line
        for line in header.splitlines()
        if not line.startswith(("##enhancerlm_", "##INFO=<ID=ENHLM_")) and line.strip()
    ]
    added = [
        f"##enhancerlm_version={__version__}",
        f"##enhancerlm_model={model['id']}",
        f"##enhancerlm_weights_sha256={_weights_digest(model)}",
        f"##enhancerlm_command={command}",
    ]
    optional = {"ENHLM_TFBS_GAIN": with_sites, "ENHLM_TFBS_LOSS": with_sites, "ENHLM_OFFSET": with_offsets}
    for key, (kind, description) in INFO_FIELDS.items():
        if optional.get(key, True):
            added.append(f'##INFO=<ID={key},Number=A,Type={kind},Description="{description}">')
    return "\n".join(lines[:-1] + added + lines[-1:]) + "\n"


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


def vcf_stem(path: str | Path) -> str:
    """A VCF's file name without .vcf, .vcf.gz, .vcf.bgz or .bcf."""
    name = Path(path).name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def next_line(body: Iterator[str], vcf: Path) -> str:
    line = next(body, None)
    if line is None:
        raise InputError(f"{vcf}: has fewer records than its scores TSV")
    return line


def vcf_header_of(path: Path) -> str:
    lines = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            lines.append(line)
            if line.startswith("#CHROM"):
                break
    return "".join(lines)


def replace_command(header: str, command: str) -> str:
    return "".join(
        f"##enhancerlm_command={command}\n" if line.startswith("##enhancerlm_command=") else line
        for line in header.splitlines(keepends=True)
    )


def _weights_digest(model: dict) -> str:
    """The weights' sha256; for an ensemble without one, its members' joined by `+`."""
    if model.get("weights_sha256"):
        return model["weights_sha256"]
    return "+".join(m.get("weights_sha256") or "none" for m in model.get("members", [])) or "none"
