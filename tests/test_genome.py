"""formats.genome, formats.bed and analysis.negatives (prepare's BED + genome route): indexing, BED input,
GC-matched negatives."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import bgzf
from helpers import invoke

from enhancerlm.analysis.negatives import gc_matched_negatives, prepare_bed_dataset
from enhancerlm.commands.prepare import prepare_bed
from enhancerlm.core.dna import gc_fraction
from enhancerlm.errors import InputError
from enhancerlm.formats.bed import RegionIndex, read_bed
from enhancerlm.formats.dataset_table import COLUMNS, read_dataset
from enhancerlm.formats.genome import contig_sizes, genome_sizes, open_genome, read_fai

SIZES = {"chr1": 40_000, "chr2": 30_000, "chr3": 30_000, "chr4": 20_000}
N_RUNS = [("chr1", 10_000, 12_000), ("chr3", 5_000, 6_000)]
SOFT_MASKED = ("chr2", 0, 5_000)
BLACKLIST = [("chr2", 20_000, 21_000), ("chr4", 2_000, 4_000)]
TEST_CHROMS = ["chr3", "chr4"]
N_RICH_POSITIVE = ("chr1", 11_800, 12_100)  # two thirds N: rejected
BLACKLISTED_POSITIVE = ("chr2", 20_500, 20_800)  # inside a blacklist region: rejected
MASKED_POSITIVE = ("chr2", 1_000, 1_300)  # soft-masked: kept, upper-cased


def random_dna(rng: np.random.Generator, length: int, gc: float) -> str:
    probabilities = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(np.array(list("ACGT"))[rng.choice(4, size=length, p=probabilities)])


def synthetic_genome(seed: int = 0) -> dict[str, str]:
    """Contigs of 1 kb blocks whose GC varies from 0.3 to 0.65, with N runs and a soft-masked stretch."""
    rng = np.random.default_rng(seed)
    genome = {}
    for chrom, size in SIZES.items():
        genome[chrom] = "".join(random_dna(rng, 1_000, rng.uniform(0.3, 0.65)) for _ in range(size // 1_000))
    for chrom, start, end in N_RUNS:
        genome[chrom] = genome[chrom][:start] + "N" * (end - start) + genome[chrom][end:]
    chrom, start, end = SOFT_MASKED
    genome[chrom] = genome[chrom][:start] + genome[chrom][start:end].lower() + genome[chrom][end:]
    return genome


def fasta_text(genome: dict[str, str], width: int = 60) -> str:
    return "".join(
        f">{chrom} synthetic\n" + "".join(f"{seq[i : i + width]}\n" for i in range(0, len(seq), width))
        for chrom, seq in genome.items()
    )


def overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def positive_regions(seed: int = 0) -> list[tuple[str, int, int]]:
    """About 30 positives of 200-399 bp away from the N runs and blacklist, plus three special ones."""
    rng = np.random.default_rng(seed)
    regions = []
    for chrom, size in SIZES.items():
        for start in range(1_500, size - 1_000, 3_500):
            start += int(rng.integers(0, 500))
            region = (chrom, start, start + int(rng.integers(200, 400)))
            if not any(overlaps(region, other) for other in [*N_RUNS, *BLACKLIST, MASKED_POSITIVE]):
                regions.append(region)
    return [*regions, N_RICH_POSITIVE, BLACKLISTED_POSITIVE, MASKED_POSITIVE]


def write_bed(path: Path, regions: list[tuple[str, int, int]], header: str = "") -> Path:
    path.write_text(header + "".join(f"{c}\t{s}\t{e}\tpeak{i}\n" for i, (c, s, e) in enumerate(regions)))
    return path


@pytest.fixture(scope="module")
def genome_files(tmp_path_factory) -> dict[str, Path]:
    """The synthetic genome as plain, bgzip and plain-gzip FASTA, its positives and blacklist."""
    directory = tmp_path_factory.mktemp("genome")
    text = fasta_text(synthetic_genome())
    plain = directory / "genome.fa"
    plain.write_text(text)
    bgzipped = directory / "genome.bgz.fa.gz"
    with bgzf.BgzfWriter(str(bgzipped), "wb") as handle:
        handle.write(text.encode())
    gzipped = directory / "genome.gzip.fa.gz"
    gzipped.write_bytes(gzip.compress(text.encode()))
    return {
        "plain": plain,
        "bgzip": bgzipped,
        "gzip": gzipped,
        "bed": write_bed(directory / "peaks.bed", positive_regions(), header="track name=peaks\n#chrom\tstart\n"),
        "blacklist": write_bed(directory / "blacklist.bed", BLACKLIST),
    }


@pytest.fixture(scope="module")
def prepared(genome_files, tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    paths = prepare_bed(
        genome_files["bed"],
        genome_files["bgzip"],
        tmp_path_factory.mktemp("prepared"),
        blacklist=genome_files["blacklist"],
        test_chroms=TEST_CHROMS,
        negatives_per_positive=2,
        folds=3,
        seed=1,
    )["peaks"]
    return read_dataset(paths["dataset"]), json.loads(paths["report"].read_text())


def coordinates(ids: pd.Series) -> list[tuple[str, int, int]]:
    return [(chrom, int(start), int(end)) for chrom, start, end in ids.str.rsplit("_", n=2)]


# ---------------------------------------------------------------------------- genome access


def test_plain_and_bgzip_fasta_give_the_same_upper_case_sequence(genome_files):
    genome = synthetic_genome()
    for key in ("plain", "bgzip"):
        with open_genome(genome_files[key]) as reference:
            assert reference.sizes == SIZES
            assert reference.fetch("chr2", 4_990, 5_010) == genome["chr2"][4_990:5_010].upper()
            assert reference.fetch("chr1", 9_998, 10_002) == genome["chr1"][9_998:10_000] + "NN"
            with pytest.raises(InputError, match="chr1:39999-40001 is not a region of this genome"):
                reference.fetch("chr1", 39_999, 40_001)
    assert contig_sizes(genome_files["bgzip"]) == SIZES
    assert Path(f"{genome_files['bgzip']}.gzi").is_file()


def test_bgzip_reads_across_a_full_block_boundary(genome_files):
    """Biopython writes 64 KiB blocks; a read starting on the first byte of the second one must work."""
    text = fasta_text(synthetic_genome())
    boundary = 1 << 16
    assert text[boundary] in "ACGTN"
    header = text.rfind(">", 0, boundary)
    first_base = text.index("\n", header) + 1
    chrom = text[header + 1 : first_base].split()[0]
    position = boundary - first_base - text.count("\n", first_base, boundary)
    with open_genome(genome_files["plain"]) as plain, open_genome(genome_files["bgzip"]) as bgzipped:
        for start in range(position - 2, position + 3):
            assert bgzipped.fetch(chrom, start, start + 100) == plain.fetch(chrom, start, start + 100)


def test_plain_gzip_genome_is_recompressed_once_to_a_cached_bgzf_copy(genome_files, tmp_path, monkeypatch, caplog):
    directory = tmp_path / "reference"
    directory.mkdir()
    gzipped = directory / "genome.fa.gz"
    gzipped.write_bytes(genome_files["gzip"].read_bytes())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    genome = synthetic_genome()
    with caplog.at_level("INFO", logger="enhancerlm.formats.genome"):
        for _ in range(2):  # the second open reuses the copy and its index
            with open_genome(gzipped) as reference, open_genome(genome_files["plain"]) as plain:
                assert reference.sizes == SIZES
                assert reference.fetch("chr1", 0, 50) == genome["chr1"][:50]
                for chrom, size in SIZES.items():
                    assert reference.fetch(chrom, 0, size) == plain.fetch(chrom, 0, size)
    assert sum("re-compressing it once to BGZF" in record.message for record in caplog.records) == 1
    assert os.listdir(directory) == ["genome.fa.gz"]  # nothing written beside the input
    cached = sorted(path.name for path in (tmp_path / "cache").rglob("*") if path.is_file())
    assert cached == ["genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi"]
    os.utime(gzipped, ns=(0, 0))  # a changed file gets a fresh copy
    assert contig_sizes(gzipped) == SIZES
    assert len([path for path in (tmp_path / "cache").rglob("genome.fa.gz")]) == 2


def test_a_given_fai_is_used_instead_of_building_one(genome_files, tmp_path, monkeypatch):
    directory = tmp_path / "reference"
    directory.mkdir()
    fasta = directory / "genome.fa"
    fasta.write_bytes(genome_files["plain"].read_bytes())
    contig_sizes(genome_files["plain"])  # indexes it beside itself
    fai = tmp_path / "elsewhere.fai"
    fai.write_text(Path(f"{genome_files['plain']}.fai").read_text())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with open_genome(fasta, fai=fai) as reference:
            assert reference.sizes == SIZES and reference.fetch("chr4", 0, 10) == synthetic_genome()["chr4"][:10]
    finally:
        directory.chmod(0o755)
    assert os.listdir(directory) == ["genome.fa"] and not (tmp_path / "cache").exists()
    assert genome_sizes(fai=fai) == SIZES
    with pytest.raises(InputError, match="line 1: not a .fai line"):
        read_fai(genome_files["bed"])


@pytest.mark.parametrize(("kind", "index_dir"), [("plain", None), ("bgzip", None), ("bgzip", "indexes")])
def test_read_only_genome_directory_is_never_written(genome_files, tmp_path, monkeypatch, kind, index_dir):
    directory = tmp_path / "reference"
    directory.mkdir()
    fasta = directory / genome_files[kind].name
    fasta.write_bytes(genome_files[kind].read_bytes())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        for _ in range(2):  # the second open reuses the index written by the first
            assert contig_sizes(fasta, index_dir=tmp_path / index_dir if index_dir else None) == SIZES
        assert os.listdir(directory) == [fasta.name]
    finally:
        directory.chmod(0o755)
    kept = tmp_path / (index_dir or "cache")
    indexes = sorted(path.name for path in kept.rglob("*") if path.is_file())
    assert indexes == sorted([f"{fasta.name}.fai"] + [f"{fasta.name}.gzi"] * (kind == "bgzip"))


def test_unindexable_fasta_is_one_line_error(tmp_path):
    ragged = tmp_path / "ragged.fa"
    ragged.write_text(">c1\nACGTACGT\nACG\nACGTACGT\n")
    with pytest.raises(InputError, match=rf"^{ragged}: cannot index FASTA: [^\n]+$"):
        open_genome(ragged)
    with pytest.raises(InputError, match="genome FASTA not found"):
        open_genome(tmp_path / "missing.fa")


# ---------------------------------------------------------------------------- BED


def test_read_bed_skips_headers_and_fills_missing_names(tmp_path):
    bed = tmp_path / "regions.bed"
    bed.write_text(
        "browser position chr1\ntrack name=x\n# comment\nchrom start end\n\nchr1\t0\t10\tfirst\r\nchr2 5 20\n"
    )
    regions = read_bed(bed, SIZES)
    assert regions.to_dict("records") == [
        {"chrom": "chr1", "start": 0, "end": 10, "name": "first"},
        {"chrom": "chr2", "start": 5, "end": 20, "name": "."},
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("chr1\t100", "expected at least 3 columns (chrom, start, end), found 2"),
        ("chr1\t1.5\t200", "start is not an integer: '1.5'"),
        ("chr1\t100\tend", "end is not an integer: 'end'"),
        ("chr1\t-5\t200", "start is negative (-5)"),
        ("chr1\t200\t200", "start 200 is not less than end 200 (BED is 0-based, half-open)"),
        ("chrX\t0\t100", "contig 'chrX' is not in the genome (it has chr1, chr2, chr3, chr4)"),
        ("chr4\t19900\t20001", "end 20001 is beyond the end of chr4 (20000 bp)"),
    ],
)
def test_bad_bed_lines_name_file_line_and_reason(tmp_path, line, reason):
    bed = tmp_path / "bad.bed"
    bed.write_text(f"# header\nchr1\t0\t10\n{line}\n")
    with pytest.raises(InputError) as error:
        read_bed(bed, SIZES)
    assert str(error.value) == f"{bed}: line 3: {reason}"


def test_region_index_overlap_is_half_open_and_merges():
    index = RegionIndex([("c", 10, 20), ("c", 15, 30), ("c", 50, 60)])
    assert index.overlaps("c", 29, 31) and index.overlaps("c", 0, 11)
    assert not index.overlaps("c", 30, 50) and not index.overlaps("c", 0, 10) and not index.overlaps("d", 0, 99)
    index.add("c", 30, 50)  # touches both neighbours: one region 10-60
    assert index.overlaps("c", 40, 41) and not index.overlaps("c", 60, 70)
    index.add("c", 100, 110)
    assert index.overlaps("c", 109, 200) and not index.overlaps("c", 60, 100)


# ---------------------------------------------------------------------------- negatives


def test_negatives_are_gc_matched_same_length_and_free(genome_files):
    with open_genome(genome_files["plain"]) as reference:
        positives = read_bed(genome_files["bed"], reference.sizes).iloc[:-3]  # the usable ones
        positives["id"] = [f"p{i}" for i in range(len(positives))]
        positives["split"] = np.where(positives["chrom"].isin(TEST_CHROMS), "test", "train")
        positives["sequence"] = [reference.fetch(*region) for region in positives[["chrom", "start", "end"]].values]
        pools = {"train": ["chr1", "chr2"], "test": TEST_CHROMS}
        exclude = [*positive_regions(), *BLACKLIST]
        negatives = gc_matched_negatives(reference, positives, pools, exclude=exclude, per_positive=2, seed=3)
    by_id = positives.set_index("id")
    assert negatives["positive"].value_counts().to_dict() == dict.fromkeys(positives["id"], 2)
    for negative in negatives.itertuples():
        positive = by_id.loc[negative.positive]
        assert negative.end - negative.start == positive.end - positive.start == len(negative.sequence)
        difference = gc_fraction(negative.sequence) - gc_fraction(positive.sequence)
        assert difference == pytest.approx(negative.gc_difference)
        assert abs(difference) <= negative.tolerance + 1e-9
        assert (negative.chrom in TEST_CHROMS) == (positive.split == "test") == (negative.split == "test")
        assert negative.sequence.count("N") <= 0.1 * len(negative.sequence)
        region = (negative.chrom, negative.start, negative.end)
        assert not any(overlaps(region, other) for other in exclude)
    assert (negatives["tolerance"] == 0.02).mean() > 0.9
    spans = list(zip(negatives["chrom"], negatives["start"], negatives["end"], strict=True))
    assert not any(overlaps(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :])


def test_prepared_dataset_splits_by_chromosome_and_matches_gc(genome_files, prepared):
    table, report = prepared
    assert list(table.columns) == COLUMNS
    positives, negatives = table[table["label"] == 1], table[table["label"] == 0]
    assert set(positives["class"]) == {"enhancer"} and set(negatives["class"]) == {"non-enhancer"}
    assert set(positives["source"]) == {"positives"} and set(negatives["source"]) == {"negatives"}
    assert len(negatives) == 2 * len(positives) == 2 * (len(positive_regions()) - 2)
    for part in (positives, negatives):
        chroms = pd.Series([chrom for chrom, _, _ in coordinates(part["id"])], index=part.index)
        assert set(part.loc[part["split"] == "test", "id"]) == set(part.loc[chroms.isin(TEST_CHROMS), "id"])
        assert set(chroms[part["split"] == "test"]) == set(TEST_CHROMS)
    genome = synthetic_genome()
    for (chrom, start, end), sequence in zip(coordinates(table["id"]), table["sequence"], strict=True):
        assert sequence == genome[chrom][start:end].upper()
    assert sorted(negatives["sequence"].str.len()) == sorted(list(positives["sequence"].str.len()) * 2)
    gc = {label: part["sequence"].map(gc_fraction) for label, part in ((1, positives), (0, negatives))}
    assert abs(gc[1].mean() - gc[0].mean()) < 0.01
    forbidden = [*positive_regions(), *BLACKLIST]
    assert not any(overlaps(region, other) for region in coordinates(negatives["id"]) for other in forbidden)
    assert (negatives["sequence"].str.count("N") <= 0.1 * negatives["sequence"].str.len()).all()
    assert set(table.loc[table["split"] == "train", "fold"]) == {0, 1, 2}
    assert (table.loc[table["split"] == "test", "fold"] == -1).all()
    assert "chr2_1000_1300" in set(positives["id"])

    summary = report["genome_negatives"]
    assert summary["splits"]["test"]["negatives"] == 2 * summary["splits"]["test"]["positives"] > 0
    assert summary["unmatched"] == {"positives": 0, "missing_negatives": 0, "ids": []}
    assert summary["rejected_positives"] == {"blacklist": 1, "n_fraction": 1, "invalid": 0}
    assert abs(summary["gc"]["positives"]["mean"] - summary["gc"]["negatives"]["mean"]) < 0.01
    reasons = {item["id"]: item["reason"] for item in report["rejected"]}
    assert reasons == {
        "chr1_11800_12100": "N fraction 0.667 is over max_n_fraction 0.1",
        "chr2_20500_20800": "overlaps a blacklist region",
    }
    assert report["labels"] == {"0": "non-enhancer", "1": "enhancer", "positive_rule": "bed"}
    assert [item["role"] for item in report["inputs"]] == ["positives", "genome", "blacklist"]
    assert all(len(item["sha256"]) == 64 for item in report["inputs"])
    assert report["parameters"]["test_chroms"] == TEST_CHROMS
    assert "2 record(s) rejected and left out; listed under rejected." in report["warnings"]


def test_negatives_are_deterministic_per_seed(genome_files, prepared):
    table, _ = prepared
    options = dict(blacklist=genome_files["blacklist"], test_chroms=TEST_CHROMS, negatives_per_positive=2, folds=3)
    again, _ = prepare_bed_dataset(genome_files["bed"], genome_files["plain"], seed=1, **options)
    other, _ = prepare_bed_dataset(genome_files["bed"], genome_files["plain"], seed=2, **options)
    pd.testing.assert_frame_equal(again, table)
    assert set(other.loc[other["label"] == 0, "id"]) != set(table.loc[table["label"] == 0, "id"])


def test_widened_and_unmatched_positives_are_reported(tmp_path):
    rng = np.random.default_rng(5)
    background = random_dna(rng, 20_000, 0.5)
    rich = random_dna(rng, 300, 0.62)  # no 300 bp window of the background is within 0.02 of it
    island = "N" * 850 + random_dna(rng, 300, 0.5) + "N" * 850  # nowhere to draw a test negative
    genome = {"bg": background[:10_000] + rich + background[10_300:], "island": island}
    fasta = tmp_path / "hard.fa"
    fasta.write_text(fasta_text(genome))
    bed = write_bed(
        tmp_path / "hard.bed",
        [
            ("bg", 10_000, 10_300),
            ("bg", 2_000, 2_300),
            ("bg", 5_000, 5_300),
            ("bg", 15_000, 15_300),
            ("island", 850, 1_150),
        ],
    )
    table, report = prepare_bed_dataset(bed, fasta, test_chroms=["island"], folds=2)
    summary = report["genome_negatives"]
    assert summary["unmatched"] == {"positives": 1, "missing_negatives": 1, "ids": ["island_850_1150"]}
    assert summary["widened"]["negatives"] >= 1 and summary["widened"]["max_tolerance"] > 0.02
    assert summary["splits"]["test"] == {"positives": 1, "negatives": 0, "contigs": 1}
    assert any("1 positive region(s) got fewer than 1 GC-matched negative(s)" in w for w in report["warnings"])
    assert any("needed a GC tolerance wider than 0.02" in w for w in report["warnings"])
    assert len(table) == 9


def test_prepare_bed_input_errors(genome_files, tmp_path):
    with pytest.raises(InputError, match="test chromosome.s. chr9 not in the genome"):
        prepare_bed_dataset(genome_files["bed"], genome_files["plain"], test_chroms=["chr9"])
    with pytest.raises(InputError, match="dataset name 'bad name'"):
        prepare_bed_dataset(genome_files["bed"], genome_files["plain"], name="bad name")


# ---------------------------------------------------------------------------- command line


def test_cli_prepare_bed_then_train_baseline(genome_files, tmp_path):
    result = invoke(
        "prepare",
        "--bed",
        genome_files["bed"],
        "--genome",
        genome_files["bgzip"],
        "--name",
        "synthetic",
        "--blacklist",
        genome_files["blacklist"],
        "--test-chroms",
        "chr3, chr4",
        "--folds",
        "3",
        "--outdir",
        tmp_path / "prep",
    )
    assert result.exit_code == 0, result.output
    dataset = tmp_path / "prep" / "synthetic.dataset.tsv"
    assert result.output.split("\t")[:2] == ["synthetic", str(dataset)]
    report = json.loads((tmp_path / "prep" / "synthetic.prepare.json").read_text())
    assert report["genome_negatives"]["test_chroms"] == TEST_CHROMS
    result = invoke(
        "train", "--dataset", dataset, "--model", "kmer-baseline", "--outdir", tmp_path / "model", "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --input (a samplesheet) or --bed with --genome"),
        (["--input", "{sheet}", "--bed", "{bed}"], "not both"),
        (["--bed", "{bed}"], "--bed needs --genome"),
        (
            ["--input", "{sheet}", "--genome", "{genome}", "--gc-tolerance", "0.05"],
            "--genome, --gc-tolerance only apply with --bed",
        ),
        (["--bed", "{bed}", "--genome", "{genome}", "--positive", "x"], "--positive applies to --input"),
    ],
)
def test_cli_prepare_mode_errors(genome_files, tmp_path, args, message):
    filled = [a.format(sheet=genome_files["bed"], bed=genome_files["bed"], genome=genome_files["plain"]) for a in args]
    result = invoke("prepare", *filled, "--outdir", tmp_path)
    assert result.exit_code == 2 and message in result.output, result.output


def test_cli_prepare_reads_a_plain_gzip_genome(genome_files, prepared, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = invoke(
        "prepare",
        "--bed",
        genome_files["bed"],
        "--genome",
        genome_files["gzip"],
        "--blacklist",
        genome_files["blacklist"],
        "--test-chroms",
        ",".join(TEST_CHROMS),
        "--negatives-per-positive",
        "2",
        "--folds",
        "3",
        "--seed",
        "1",
        "--outdir",
        tmp_path / "prep",
    )
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "prep" / "peaks.dataset.tsv"), prepared[0])
