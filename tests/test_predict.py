"""commands.predict and merge_predictions over analysis.scan and analysis.calibration: genome scans, region
calls, chunked scans and their merge, calibration."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from Bio import bgzf
from helpers import MOTIF, invoke, random_dna, untrained_lm, write_fasta

import enhancerlm.commands.predict
from enhancerlm.analysis.calibration import fdr_cutoff, fdr_qvalues, null_auc, truth_metrics
from enhancerlm.analysis.scan import ScannedBases
from enhancerlm.commands.merge_predictions import merge_predictions
from enhancerlm.commands.predict import ScanOptions, predict
from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.core.dna import dinucleotide_shuffle
from enhancerlm.core.probability import parse_probabilities
from enhancerlm.formats.bed import RegionIndex
from enhancerlm.formats.tracks import read_score_counts
from enhancerlm.models.baseline import KmerBaseline
from enhancerlm.models.ensemble import Ensemble
from enhancerlm.training.loop import TrainOptions

PLANTED = [10_000, 30_000, 50_000]  # starts of the planted enhancer elements on chr1 of the scan genome
ELEMENT = 100


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def enhancer_element(rng: np.random.Generator) -> str:
    """Four copies of the motif with random 8 nt spacers: 100 nt."""
    return "".join(MOTIF + random_dna(rng, 8) for _ in range(4))


def fasta(path: Path, genome: dict[str, str], width: int = 60) -> Path:
    path.write_text(
        "".join(
            f">{name}\n" + "".join(f"{seq[i : i + width]}\n" for i in range(0, len(seq), width))
            for name, seq in genome.items()
        )
    )
    return path


def outputs(directory: Path, prefix: str) -> dict[str, str]:
    return {suffix: (directory / f"{prefix}.{suffix}").read_text() for suffix in ("windows.bedgraph", "enhancers.bed")}


def bedgraph_rows(path: Path) -> list[tuple[str, int, int, float]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return [(c, int(s), int(e), float(v)) for c, s, e, v in rows]


@pytest.fixture(scope="module")
def planted_model(tmp_path_factory) -> Path:
    """The k-mer baseline trained to find the planted element in 200 nt of random sequence."""
    directory = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(7)
    rows = ["dataset,fasta,label,split"]
    for split, n in (("train", 300), ("test", 40)):
        positives = []
        for i in range(n // 2):
            background, element = random_dna(rng, 200), enhancer_element(rng)
            at = int(rng.integers(0, 200 - ELEMENT))
            positives.append((f"{split}_p{i}", background[:at] + element + background[at + ELEMENT :]))
        negatives = [(f"{split}_n{i}", random_dna(rng, 200)) for i in range(n // 2)]
        rows.append(f"planted,{write_fasta(directory / f'{split}_pos.fa', positives)},enhancer,{split}")
        rows.append(f"planted,{write_fasta(directory / f'{split}_neg.fa', negatives)},background,{split}")
    (directory / "sheet.csv").write_text("\n".join(rows) + "\n")
    dataset = prepare_samplesheet(directory / "sheet.csv", directory / "prepared", folds=3)["planted"]["dataset"]
    train(dataset, "kmer-baseline", directory / "model", options=TrainOptions())
    return directory / "model"


@pytest.fixture(scope="module")
def scan_genome(tmp_path_factory) -> dict:
    """chr1 (60 kb) with three planted elements, chr2 (8 kb) without; plain FASTA."""
    rng = np.random.default_rng(11)
    chr1 = random_dna(rng, 60_000)
    for start in PLANTED:
        chr1 = chr1[:start] + enhancer_element(rng) + chr1[start + ELEMENT :]
    genome = {"chr1": chr1, "chr2": random_dna(rng, 8_000)}
    directory = tmp_path_factory.mktemp("scan_genome")
    truth = directory / "truth.bed"
    truth.write_text("".join(f"chr1\t{s}\t{s + ELEMENT}\n" for s in PLANTED) + "chr2\t4000\t4100\n")
    return {"fasta": fasta(directory / "genome.fa", genome), "sequences": genome, "truth": truth}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """An untrained scratch-tiny k = 3 model saved with a card: 64 tokens, so windows up to 64 nt; card window 60."""
    return untrained_lm(tmp_path_factory.mktemp("tiny_lm") / "tiny", 60)


# ---------------------------------------------------------------------------- coordinates


@pytest.fixture(scope="module")
def hand_genome(tmp_path_factory) -> dict:
    """a: 1,030 bp with N at [400, 520); b: 150 bp (shorter than a window); c: 820 bp lower case; d: c upper."""
    rng = np.random.default_rng(3)
    a = random_dna(rng, 1_030)
    a = a[:400] + "N" * 120 + a[520:]
    c = random_dna(rng, 820)
    genome = {"a": a, "b": random_dna(rng, 150), "c": c.lower(), "d": c}
    directory = tmp_path_factory.mktemp("hand")
    text_path = fasta(directory / "hand.fa", genome)
    gzipped = directory / "hand.gzip.fa.gz"
    gzipped.write_bytes(gzip.compress(text_path.read_bytes()))
    bgzipped = directory / "hand.bgzip.fa.gz"
    with bgzf.BgzfWriter(str(bgzipped), "wb") as handle:
        handle.write(text_path.read_bytes())
    return {"plain": text_path, "gzip": gzipped, "bgzip": bgzipped, "sequences": genome}


def test_window_grid_tiles_n_runs_and_short_contigs(planted_model, hand_genome, tmp_path):
    report = predict(
        str(planted_model),
        hand_genome["plain"],
        tmp_path,
        prefix="hand",
        options=ScanOptions(window=200, stride=100, threshold=1.0),
    )
    rows = bedgraph_rows(tmp_path / "hand.windows.bedgraph")
    # windows start at 0, 100, ... while start + 200 <= length; 300 and 400 hold 100 and 120 N (> 20), 500
    # holds exactly 20 N (10 %) and is kept; tiles are the centre 100 bp [start + 50, start + 150)
    assert [(s, e) for c, s, e, _ in rows if c == "a"] == [(s + 50, s + 150) for s in (0, 100, 200, 500, 600, 700, 800)]
    assert [(s, e) for c, s, e, _ in rows if c == "c"] == [(s + 50, s + 150) for s in range(0, 700, 100)]
    assert report["windows"] == {"scored": 21, "skipped": {"n_fraction": 2, "blacklist": 0}}
    assert report["short_contigs"] == ["b"] and report["contigs"]["scanned"] == ["a", "b", "c", "d"]
    assert report["parameters"]["tile_offset"] == 50 and report["parameters"]["window"] == 200
    lower = [v for c, _, _, v in rows if c == "c"]
    assert lower == [v for c, _, _, v in rows if c == "d"]  # soft-masked sequence scores as upper case
    assert sum(report["score_distribution"]["counts"]) == 21


def test_sparse_grid_tiles_are_clipped_to_the_contig(planted_model, hand_genome, tmp_path):
    """stride > window: each tile is wider than its window, and the first and last are clipped."""
    predict(
        str(planted_model),
        hand_genome["plain"],
        tmp_path,
        prefix="sparse",
        options=ScanOptions(window=200, stride=300, include_contigs=["c"]),
    )
    rows = bedgraph_rows(tmp_path / "sparse.windows.bedgraph")
    assert [(c, s, e) for c, s, e, _ in rows] == [("c", 0, 250), ("c", 250, 550), ("c", 550, 820)]


def test_regions_and_chunk_restrict_window_starts(planted_model, hand_genome, tmp_path):
    regions = tmp_path / "regions.bed"
    regions.write_text("a\t250\t620\nc\t0\t1\n")
    report = predict(
        str(planted_model),
        hand_genome["plain"],
        tmp_path,
        prefix="regions",
        options=ScanOptions(window=200, stride=100, regions=regions),
    )
    assert [(c, s) for c, s, _, _ in bedgraph_rows(tmp_path / "regions.windows.bedgraph")] == [
        ("a", 550),
        ("a", 650),
        ("c", 50),
    ]
    assert report["windows"]["skipped"]["n_fraction"] == 2
    predict(
        str(planted_model),
        hand_genome["plain"],
        tmp_path,
        prefix="chunk",
        options=ScanOptions(window=200, stride=100, chunk="a:100-601"),
    )
    rows = bedgraph_rows(tmp_path / "chunk.windows.bedgraph")
    assert [s - 50 for _, s, _, _ in rows] == [100, 200, 500, 600]  # starts in [100, 601); reads reach 800


@pytest.mark.parametrize("kind", ["gzip", "bgzip"])
def test_compressed_genomes_give_identical_outputs(planted_model, hand_genome, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    options = ScanOptions(window=200, stride=50, threshold=0.3)
    predict(str(planted_model), hand_genome["plain"], tmp_path / "plain", prefix="x", options=options)
    predict(str(planted_model), hand_genome[kind], tmp_path / kind, prefix="x", options=options)
    assert outputs(tmp_path / kind, "x") == outputs(tmp_path / "plain", "x")
    assert (tmp_path / "plain" / "x.enhancers.bed").read_text()


# ---------------------------------------------------------------------------- finding planted enhancers


def test_planted_enhancers_are_found_and_nothing_else(planted_model, scan_genome, tmp_path):
    report = predict(
        str(planted_model),
        scan_genome["fasta"],
        tmp_path,
        prefix="scan",
        options=ScanOptions(stride=25, truth=scan_genome["truth"]),
    )
    regions = [line.split("\t") for line in (tmp_path / "scan.enhancers.bed").read_text().splitlines()]
    assert len(regions) == 3
    calling = report["calling"]
    assert calling["rule"] == "fdr" and calling["fdr"] == 0.05 and report["parameters"]["threshold"] is None
    for (chrom, start, end, name, score, strand, best, mean, windows, q), planted in zip(regions, PLANTED):
        assert chrom == "chr1" and int(start) <= planted and planted + ELEMENT <= int(end)
        assert int(end) - int(start) <= 400 and strand == "." and name.startswith("scan_region")
        assert int(score) == round(float(best) * 1000) and float(best) >= float(mean) >= calling["cutoff"]
        assert float(q) <= 0.05
    # the planted elements cover 1.5% of the genome: most windows score like their shuffled copies
    assert report["calibration"]["auc_real_vs_shuffled"] < 0.6 and report["calibration"]["best_q_value"] <= 0.05
    assert report["truth"]["precision"] == 1.0 and report["truth"]["recall"] == 0.75  # chr2's truth is not planted
    covered = sum(int(r[2]) - int(r[1]) for r in regions)
    scanned = 60_000 + 8_000  # both contigs are scanned end to end: no N, no blacklist
    assert report["regions"] == {
        "called": 3,
        "bases_covered": covered,
        "bases_scanned": scanned,
        "fraction_called": round(covered / scanned, 6),
    }
    assert report["regions"]["fraction_called"] < 0.05 and report["warnings"] == []


def test_a_scan_calling_much_of_the_genome_is_flagged_in_plain_words(planted_model, scan_genome, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="enhancerlm.commands.scan_report"):
        report = predict(
            str(planted_model),
            scan_genome["fasta"],
            tmp_path,
            prefix="all",
            options=ScanOptions(stride=50, threshold=0.0, calibrate=False),
        )
    assert report["regions"]["fraction_called"] == 1.0
    (warning,) = report["warnings"]
    assert warning.startswith("100% of the scanned bases are called enhancer") and "genomic background" in warning
    assert any(warning in record.message for record in caplog.records)
    table = (tmp_path / "all.predict_mqc.tsv").read_text().splitlines()
    header, row = table[-2].split("\t"), table[-1].split("\t")
    assert row[header.index("Called (%)")] == "100.0"


def test_truth_precision_and_recall_by_hand(tmp_path):
    truth = tmp_path / "truth.bed"
    truth.write_text("c\t50\t60\nc\t90\t210\nc\t1000\t1100\nother\t0\t10\n")
    called = [("c", 0, 100), ("c", 200, 300), ("c", 500, 600)]
    metrics = truth_metrics(called, truth, scanned=["c"])
    assert metrics["precision"] == pytest.approx(2 / 3) and metrics["recall"] == pytest.approx(2 / 3)
    assert (
        metrics["true_positive_regions"],
        metrics["recalled_truth_regions"],
        metrics["truth_regions"],
        metrics["truth_regions_not_scanned"],
    ) == (2, 2, 3, 1)


def test_chunked_scans_merge_into_the_whole_scan(planted_model, scan_genome, tmp_path):
    """Chunk borders at 10,050 and 30,050 cut through planted regions; merging restores them exactly."""
    options = dict(stride=25, merge_gap=100, calibration_windows=2_600, truth=scan_genome["truth"])
    whole = predict(
        str(planted_model), scan_genome["fasta"], tmp_path / "whole", prefix="scan", options=ScanOptions(**options)
    )
    result = invoke("chunks", "--genome", scan_genome["fasta"], "--size", "10050", "--output", tmp_path / "chunks.bed")
    assert result.exit_code == 0, result.output
    chunks = [line.split("\t")[3] for line in (tmp_path / "chunks.bed").read_text().splitlines()]
    assert chunks[:2] == ["chr1:0-10050", "chr1:10050-20100"] and chunks[-1] == "chr2:0-8000"
    for number, chunk in enumerate(chunks):
        predict(
            str(planted_model),
            scan_genome["fasta"],
            tmp_path / "chunks",
            prefix=f"part{number}",
            options=ScanOptions(**options, chunk=chunk),
        )
    result = invoke(
        "merge-predictions",
        "--input",
        tmp_path / "chunks",
        "--genome",
        scan_genome["fasta"],
        "--outdir",
        tmp_path / "merged",
        "--prefix",
        "scan",
    )
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "merged", "scan") == outputs(tmp_path / "whole", "scan")
    assert len((tmp_path / "whole" / "scan.enhancers.bed").read_text().splitlines()) == 3
    merged = json.loads((tmp_path / "merged" / "scan.predict.json").read_text())
    for key in (
        "windows",
        "regions",
        "score_distribution",
        "contigs",
        "short_contigs",
        "truth",
        "calibration",
        "parameters",
    ):
        assert merged[key] == whole[key], key
    assert merged["chunks"] == sorted(chunks)
    # a chunk writes only what the merge reads: window scores with their counts, calibration sample, report
    written = {path.name.split(".", 1)[1] for path in (tmp_path / "chunks").iterdir() if path.name.startswith("part0.")}
    assert written == {"predict.json", "windows.bedgraph", "score_counts.tsv", "calibration.tsv"}
    total = 0
    for number in range(len(chunks)):
        counts = read_score_counts(tmp_path / "chunks" / f"part{number}.score_counts.tsv")
        lines = (tmp_path / "chunks" / f"part{number}.windows.bedgraph").read_text().splitlines()
        values = parse_probabilities(pd.Series([line.split("\t")[3] for line in lines], dtype=str))
        assert (counts == np.bincount(values, minlength=len(counts))).all()
        report = json.loads((tmp_path / "chunks" / f"part{number}.predict.json").read_text())
        assert counts.sum() == report["windows"]["scored"] and "regions" not in report
        total += counts.sum()
    assert total == whole["windows"]["scored"]
    result = invoke(
        "merge-predictions",
        "--input",
        tmp_path / "chunks" / "part0",
        "--input",
        tmp_path / "chunks",
        "--fai",
        f"{scan_genome['fasta']}.fai",
        "--outdir",
        tmp_path / "twice",
        "--prefix",
        "scan",
    )
    assert result.exit_code == 0  # the same chunk named twice is read once
    predict(
        str(planted_model),
        scan_genome["fasta"],
        tmp_path / "extra",
        prefix="overlap",
        options=ScanOptions(**options, chunk="chr1:0-100"),
    )
    result = invoke(
        "merge-predictions",
        "--input",
        tmp_path / "chunks",
        "--input",
        tmp_path / "extra",
        "--fai",
        f"{scan_genome['fasta']}.fai",
        "--outdir",
        tmp_path / "bad",
        "--prefix",
        "scan",
    )
    assert result.exit_code == 1 and "the inputs overlap" in result.output, result.output


def test_language_model_chunks_merge_byte_identically(tiny_lm, scan_genome, tmp_path):
    """Padded fixed-shape batches make a window's probability independent of its batch companions; merging
    with another --threshold calls regions as a whole scan with that threshold does."""
    common = [
        "--model",
        tiny_lm,
        "--genome",
        scan_genome["fasta"],
        "--stride",
        "25",
        "--batch-size",
        "32",
        "--device",
        "cpu",
    ]
    for chunk in ("chr1:0-12345", "chr1:12345-60000", "chr2:0-8000"):
        result = invoke(
            "predict", *common, "--chunk", chunk, "--outdir", tmp_path / "parts", "--prefix", chunk.replace(":", "_")
        )
        assert result.exit_code == 0, result.output
    assert invoke("predict", *common, "--outdir", tmp_path / "first", "--prefix", "lm").exit_code == 0
    report = json.loads((tmp_path / "first" / "lm.predict.json").read_text())
    assert report["windows"]["scored"] == (60_000 - 60) // 25 + 1 + (8_000 - 60) // 25 + 1
    assert report["parameters"]["window"] == 60 and report["parameters"]["strand_mode"] == "forward"  # the card's
    threshold = str(report["score_distribution"]["quantiles"]["0.95"])
    assert (
        invoke("predict", *common, "--threshold", threshold, "--outdir", tmp_path / "whole", "--prefix", "lm").exit_code
        == 0
    )
    result = invoke(
        "merge-predictions",
        "--input",
        tmp_path / "parts",
        "--genome",
        scan_genome["fasta"],
        "--threshold",
        threshold,
        "--outdir",
        tmp_path / "merged",
        "--prefix",
        "lm",
    )
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "merged", "lm") == outputs(tmp_path / "whole", "lm")
    assert len((tmp_path / "whole" / "lm.enhancers.bed").read_text().splitlines()) > 10


def test_bigwig_equals_the_bedgraph(planted_model, scan_genome, tmp_path):
    predict(str(planted_model), scan_genome["fasta"], tmp_path, prefix="bw", options=ScanOptions(stride=100))
    rows = bedgraph_rows(tmp_path / "bw.windows.bedgraph")
    with pyBigWig.open(str(tmp_path / "bw.windows.bw")) as bigwig:
        assert bigwig.chroms() == {"chr1": 60_000, "chr2": 8_000}
        intervals = [(chrom, *interval) for chrom in ("chr1", "chr2") for interval in bigwig.intervals(chrom)]
    assert [row[:3] for row in intervals] == [row[:3] for row in rows]
    assert np.allclose([row[3] for row in intervals], [row[3] for row in rows], atol=1e-7)


# ---------------------------------------------------------------------------- what is not scanned


def test_excluded_contigs_and_blacklist_are_not_scored(planted_model, tmp_path):
    rng = np.random.default_rng(5)
    genome = {
        name: random_dna(rng, 2_000)
        for name in ("chr1", "chr1_KI270706v1_random", "chrUn_GL000195v1", "chr6_ssto_hap7", "chr2")
    }
    path = fasta(tmp_path / "g.fa", genome)
    blacklist = tmp_path / "blacklist.bed"
    blacklist.write_text("chr1\t1000\t1100\n")
    report = predict(
        str(planted_model), path, tmp_path, prefix="x", options=ScanOptions(window=200, stride=100, blacklist=blacklist)
    )
    rows = bedgraph_rows(tmp_path / "x.windows.bedgraph")
    assert {c for c, *_ in rows} == {"chr1", "chr2"}
    assert report["contigs"]["excluded"]["pattern"] == ["chr1_KI270706v1_random", "chr6_ssto_hap7", "chrUn_GL000195v1"]
    # windows [s, s + 200) overlapping [1000, 1100): s = 900, 1000 (800 ends at 1000: half-open, kept)
    assert [s - 50 for c, s, *_ in rows if c == "chr1"] == [s for s in range(0, 1_801, 100) if s not in (900, 1000)]
    assert report["windows"]["skipped"] == {"n_fraction": 0, "blacklist": 2}
    report = predict(
        str(planted_model),
        path,
        tmp_path,
        prefix="y",
        options=ScanOptions(window=200, stride=100, include_contigs=["chr2", "chr6_ssto_hap7"], exclude_contigs=""),
    )
    assert report["contigs"]["scanned"] == ["chr2", "chr6_ssto_hap7"]
    assert len(report["contigs"]["excluded"]["include_list"]) == 3 and not report["contigs"]["excluded"]["pattern"]
    index = RegionIndex([("chr1", 1000, 1100)])
    starts = np.arange(0, 1_801, 100)
    assert index.overlaps_many("chr1", starts, starts + 200).tolist() == [
        index.overlaps("chr1", s, s + 200) for s in starts
    ]


# ---------------------------------------------------------------------------- scoring and calibration


def test_dinucleotide_shuffle_preserves_dinucleotide_counts():
    rng = np.random.default_rng(0)
    for length in (3, 10, 200, 1_000):
        sequence = np.frombuffer(random_dna(rng, length).encode(), dtype=np.uint8).copy()
        sequence[rng.integers(0, length, size=length // 20)] = ord("N")
        shuffled = dinucleotide_shuffle(sequence, np.random.default_rng(length))
        pairs = [Counter(zip(s[:-1].tolist(), s[1:].tolist())) for s in (sequence, shuffled)]
        assert pairs[0] == pairs[1] and shuffled[0] == sequence[0] and shuffled[-1] == sequence[-1]
        again = dinucleotide_shuffle(sequence, np.random.default_rng(length))
        assert (again == shuffled).all()
    assert (shuffled != sequence).mean() > 0.5  # a long sequence really is shuffled
    same = np.frombuffer(b"AAAAAA", dtype=np.uint8)
    assert (dinucleotide_shuffle(same, rng) == same).all()


def test_fast_scoring_matches_predict_proba_and_ensembles(tiny_lm, planted_model):
    from enhancerlm.models.scorer import load_trained

    lm, baseline = load_trained(str(tiny_lm)), load_trained(str(planted_model))
    rng = np.random.default_rng(2)
    windows = rng.choice(np.frombuffer(b"ACGTN", dtype=np.uint8), size=(20, 60), p=[0.24] * 4 + [0.04])
    sequences = [row.tobytes().decode() for row in windows]
    fast = lm.score_windows(windows, both_strands=True, batch_size=8)
    assert np.allclose(fast, lm.predict_proba(sequences, both_strands=True, batch_size=8), atol=1e-6)
    forward = baseline.score_windows(windows, both_strands=False)
    assert np.allclose(forward, baseline.predict_proba(sequences))
    ensemble = Ensemble([lm, baseline], {"method": "mean", "weights": [0.5, 0.5]})
    both = (fast + baseline.score_windows(windows, both_strands=True)) / 2
    assert np.allclose(ensemble.score_windows(windows, both_strands=True, batch_size=8), both)
    # by default each member scores the strands its card names (both cards here: forward)
    assert np.allclose(ensemble.score_windows(windows, batch_size=8), (lm.score_windows(windows) + forward) / 2)
    assert np.allclose(lm.score_windows(windows), lm.score_windows(windows, both_strands=False))
    assert ensemble.max_window == 64 and baseline.max_window is None


def test_calibrated_regions_get_an_fdr(planted_model, scan_genome, tmp_path):
    report = predict(
        str(planted_model),
        scan_genome["fasta"],
        tmp_path,
        prefix="cal",
        options=ScanOptions(stride=100, threshold=0.5, calibration_windows=200),
    )
    assert report["calling"] == {"rule": "threshold", "threshold": 0.5, "fdr": None, "cutoff": 0.5}
    regions = [line.split("\t") for line in (tmp_path / "cal.enhancers.bed").read_text().splitlines()]
    assert regions and all(len(region) == 10 and 0 <= float(region[9]) <= 1 for region in regions)
    sample = (tmp_path / "cal.calibration.tsv").read_text().splitlines()
    assert sample[0] == "chrom\tstart\tkey\tprobability" and len(sample) == 201
    assert report["calibration"]["shuffled_windows"] == 200


def test_fdr_q_values_and_auc_by_hand():
    counts = np.zeros(11, dtype=np.int64)  # real windows: 4 at 0.2, 4 at 0.5, 2 at 0.9 (scale of 10 here)
    counts[[2, 5, 9]] = [4, 4, 2]
    null = np.array([2, 2, 5, 5])
    q = fdr_qvalues(np.bincount(null, minlength=11), counts)
    # FDR(t) = (null >= t + 1) / 5 x 10 / (real >= t): t <= 0.2 -> 1 (capped); 0.3..0.5 -> 3/5 x 10/6 = 1 (capped);
    # 0.6..0.9 -> 1/5 x 10/2 = 1; t = 1.0: no real window -> 1. Nothing passes at 0.05.
    assert np.allclose(q, 1.0) and fdr_cutoff(q, 0.05) == 11
    null = np.array([0, 0, 0, 0, 0, 0, 0, 3, 6])  # FDR(0.1) = 3/10 x 10/10 = 0.3, FDR(0.4) = 2/10 x 10/6 = 1/3
    q = fdr_qvalues(np.bincount(null, minlength=11), counts)
    assert q[0] == 1.0 and np.allclose(q[1:], 0.3)  # the smallest FDR of a cut-off at or below each score
    assert fdr_cutoff(q, 0.3) == 1 and fdr_cutoff(q, 0.29) == 11
    # AUC: P(real > null) + ties / 2 over all pairs
    assert null_auc(np.bincount([2, 5], minlength=11), counts) == pytest.approx(((6 + 4 / 2) + (2 + 4 / 2)) / 10 / 2)
    assert null_auc(np.bincount([0], minlength=11), counts) == 1.0
    assert null_auc(np.bincount([10], minlength=11), counts) == 0.0


class CompositionScorer:
    """A model that sees nothing but GC content, as one trained on GC-richer enhancers may."""

    card = {"model_id": "gc", "type": "kmer-baseline", "window": 200, "threshold": 0.5, "strand_mode": "both"}
    max_window = None
    language_models = []

    def score_windows(self, windows, both_strands=True, batch_size=64, device=None):
        return np.isin(windows, np.frombuffer(b"GC", dtype=np.uint8)).mean(axis=1)


def test_a_model_of_composition_alone_calls_nothing_and_is_named(scan_genome, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(enhancerlm.commands.predict, "load_trained", lambda spec: CompositionScorer())
    with caplog.at_level("WARNING", logger="enhancerlm.commands.scan_report"):
        report = predict("gc", scan_genome["fasta"], tmp_path, prefix="gc", options=ScanOptions(stride=50))
    # a dinucleotide shuffle keeps every window's GC: each shuffled copy scores exactly as its window
    assert report["calibration"]["auc_real_vs_shuffled"] == 0.5 and report["regions"]["called"] == 0
    assert report["calling"]["cutoff"] is None and (tmp_path / "gc.enhancers.bed").read_text() == ""
    (warning,) = report["warnings"]
    assert "AUC 0.50" in warning and "not trained to discriminate genomic background" in warning
    assert any(warning in record.message for record in caplog.records)
    table = (tmp_path / "gc.predict_mqc.tsv").read_text().splitlines()
    assert warning in table[2] and table[-1].split("\t")[4:6] == ["", "0.5"]  # the report says it; no cut-off
    raw = predict("gc", scan_genome["fasta"], tmp_path / "raw", prefix="gc", options=ScanOptions(threshold=0.55))
    assert raw["regions"]["called"] > 0 and raw["warnings"][0] == warning  # a raw cut-off calls them anyway
    assert "of the scanned bases are called enhancer" in raw["warnings"][1]
    plot = json.loads((tmp_path / "gc.score_distribution_mqc.json").read_text())
    assert set(plot["data"]) == {"gc", "gc (shuffled null)"} and plot["pconfig"]["ylab"] == "Windows (%)"
    assert plot["data"]["gc"] == plot["data"]["gc (shuffled null)"]
    assert sum(plot["data"]["gc"].values()) == pytest.approx(100, abs=0.01)


def test_fdr_calls_need_the_null(planted_model, scan_genome, tmp_path):
    result = invoke(
        "predict", "--model", planted_model, "--genome", scan_genome["fasta"], "--outdir", tmp_path, "--no-calibrate"
    )
    assert result.exit_code == 1 and "calibrate, or give a threshold" in result.output
    assert "--calibrate" in result.output and not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------- failures


def test_a_failed_scan_leaves_no_outputs(planted_model, scan_genome, tmp_path, monkeypatch):
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("model failed mid-scan")
        return np.full(len(args[1]), 0.9)

    monkeypatch.setattr(KmerBaseline, "score_windows", failing)
    monkeypatch.setattr(
        enhancerlm.commands.predict, "GROUP_WINDOWS", 500
    )  # several scoring calls; the first one's lines are written
    with pytest.raises(RuntimeError, match="mid-scan"):
        predict(str(planted_model), scan_genome["fasta"], tmp_path, prefix="x", options=ScanOptions(stride=50))
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chunk", "chr1-100"], "--chunk 'chr1-100': expected CONTIG:START-END"),
        (["--chunk", "chrZ:0-100"], "contig 'chrZ' is not in the genome"),
        (["--chunk", "chr2:0-9000"], "end 9000 is beyond the end of chr2 (8000 bp)"),
        (["--window", "100"], "--window 100 is longer than the 64 nt that model tiny reads in one pass"),
        (["--include-contigs", "chr9"], "--include-contigs: chr9 not in the genome"),
    ],
)
def test_cli_errors_are_one_line(tiny_lm, scan_genome, tmp_path, args, message):
    result = invoke("predict", "--model", tiny_lm, "--genome", scan_genome["fasta"], "--outdir", tmp_path, *args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert not list(tmp_path.iterdir())


def test_scanned_bases_are_the_union_of_the_windows_by_hand():
    scanned = ScannedBases(10, {"a": 25, "b": 4})
    scanned.add("a", np.array([0, 5]))  # [0, 15)
    scanned.add("a", np.array([8, 20]))  # [8, 18) adds 3, [20, 25) (clipped to the contig) adds 5
    scanned.add("b", np.array([0]))  # [0, 4): a new contig starts afresh
    assert scanned.total == 15 + 3 + 5 + 4


def test_results_read_the_bedgraph_once(planted_model, scan_genome, tmp_path, monkeypatch):
    """The window scores are counted while scoring (or summed from the chunks' counts), so the regions, the bigWig
    and the scanned bases come from one read of the bedGraph, in a whole scan and in a merge alike."""
    import enhancerlm.commands.scan_report as scan_report

    reads = []
    real = scan_report.read_bedgraph
    monkeypatch.setattr(scan_report, "read_bedgraph", lambda *args: reads.append(args[0]) or real(*args))
    options = dict(stride=50, calibration_windows=500)
    predict(str(planted_model), scan_genome["fasta"], tmp_path / "whole", prefix="s", options=ScanOptions(**options))
    assert len(reads) == 1
    for chunk in ("chr1:0-60000", "chr2:0-8000"):
        predict(
            str(planted_model),
            scan_genome["fasta"],
            tmp_path / "parts",
            prefix=chunk.split(":")[0],
            options=ScanOptions(**options, chunk=chunk),
        )
    assert len(reads) == 1  # a chunk calls nothing
    merge_predictions([tmp_path / "parts"], tmp_path / "merged", prefix="s", genome=scan_genome["fasta"])
    assert len(reads) == 2
    assert outputs(tmp_path / "merged", "s") == outputs(tmp_path / "whole", "s")


def test_score_counts_round_trip_and_refuse_a_broken_table(tmp_path):
    from enhancerlm.errors import InputError
    from enhancerlm.formats.tracks import write_score_counts

    counts = np.zeros(1_000_001, dtype=np.int64)
    counts[[0, 5, 1_000_000]] = [3, 1, 2]
    write_score_counts(tmp_path / "a.tsv", counts)
    assert (tmp_path / "a.tsv").read_text() == "millionths\twindows\n0\t3\n5\t1\n1000000\t2\n"
    assert (read_score_counts(tmp_path / "a.tsv") == counts).all()
    write_score_counts(tmp_path / "empty.tsv", np.zeros_like(counts))  # a chunk with no window
    assert read_score_counts(tmp_path / "empty.tsv").sum() == 0
    for name, text, reason in (
        ("header.tsv", "value\tcount\n", "not a score-counts table"),
        ("word.tsv", "millionths\twindows\n5\tmany\n", "not two integers"),
        ("range.tsv", "millionths\twindows\n1000001\t1\n", "outside 0 to 1000000"),
    ):
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=reason):
            read_score_counts(tmp_path / name)
