"""commands.variants and merge_variants over analysis.variant_effect and formats.vcf: windows, statuses, scores,
TF sites, outputs, chunks and their merge."""

from __future__ import annotations

import dataclasses
import gzip
import json
import shlex
from pathlib import Path

import cyvcf2
import numpy as np
import pysam
import pytest
from helpers import MOTIF, invoke, planted_samplesheet, random_dna, untrained_lm

from enhancerlm.analysis.variant_effect import allele_kind, allele_windows, changed_spans, window_placement, window_span
from enhancerlm.cli import main
from enhancerlm.commands.merge_variants import merge_variants
from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.commands.variants import VariantOptions, command_line, score_variants
from enhancerlm.core.dna import reverse_complement
from enhancerlm.core.probability import score_fields
from enhancerlm.errors import InputError
from enhancerlm.formats.files import resource
from enhancerlm.formats.meme import write_meme
from enhancerlm.formats.vcf import ContigMap
from enhancerlm.models.scorer import load_trained
from enhancerlm.training.loop import TrainOptions

W = 20  # window of the hand-made cases: REF's first base at offset 10
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=200>\n##contig=<ID=2,length=100>\n"
    "##contig=<ID=chrM,length=60>\n##contig=<ID=chrX,length=1000>\n"
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def other_base(base: str) -> str:
    return {"A": "C", "C": "G", "G": "T", "T": "A"}[base.upper()]


def read_tsv(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    names = lines[0].split("\t")
    return [dict(zip(names, line.split("\t"))) for line in lines[1:]]


def vcf_body(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line for line in handle if not line.startswith("#")]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """An untrained scratch-tiny k = 3 model with a card: windows up to 64 nt, card window W, forward strand."""
    return untrained_lm(tmp_path_factory.mktemp("variant_lm") / "tiny", W)


@pytest.fixture(scope="module")
def hand(tmp_path_factory) -> dict:
    """A genome (chr1 200 bp, chr2 100 bp with N at [50, 80), MT 60 bp) and a bgzipped VCF with one record per
    case, named in the VCF as chr1, 2 (-> chr2), chrM (-> MT: same length) and chrX (missing)."""
    rng = np.random.default_rng(3)
    chr1, chr2, mt = random_dna(rng, 200), random_dna(rng, 50) + "N" * 30 + random_dna(rng, 20), random_dna(rng, 60)
    directory = tmp_path_factory.mktemp("hand")
    genome = directory / "genome.fa"
    genome.write_text(f">chr1\n{chr1}\n>chr2\n{chr2}\n>MT\n{mt}\n")

    def at(sequence: str, pos: int, length: int = 1) -> str:
        return sequence[pos - 1 : pos - 1 + length]

    cases = [  # (chrom, pos, ref, alt, expected statuses)
        ("chr1", 50, at(chr1, 50), other_base(at(chr1, 50)), ["scored"]),
        ("chr1", 60, other_base(at(chr1, 60)), "A", ["ref_mismatch"]),
        (
            "chr1",
            70,
            at(chr1, 70),
            f"{other_base(at(chr1, 70))},<DEL>,*",
            ["scored", "symbolic_allele", "symbolic_allele"],
        ),
        ("chr1", 75, at(chr1, 75), "A[chr1:100[", ["symbolic_allele"]),
        ("chr1", 80, at(chr1, 80), "R", ["invalid_allele"]),
        ("chr1", 100, at(chr1, 100, 4), at(chr1, 100), ["scored"]),  # deletion of 3
        ("chr1", 120, at(chr1, 120), at(chr1, 120) + "GTA", ["scored"]),  # insertion of 3
        ("chr1", 140, at(chr1, 140, 2), other_base(at(chr1, 140)) + other_base(at(chr1, 141)), ["scored"]),  # MNV
        ("chr1", 150, at(chr1, 150), ".", ["symbolic_allele"]),
        ("chr1", 160, at(chr1, 160).lower(), other_base(at(chr1, 160)), ["scored"]),  # case-insensitive REF
        ("chr1", 185, at(chr1, 185, 12), at(chr1, 185), ["window_off_contig"]),  # the deletion reads past the end
        ("chr1", 195, at(chr1, 195), other_base(at(chr1, 195)), ["window_off_contig"]),
        ("chr1", 201, "A", "C", ["outside_contig"]),
        ("2", 5, at(chr2, 5), other_base(at(chr2, 5)), ["window_off_contig"]),
        ("2", 20, at(chr2, 20), other_base(at(chr2, 20)), ["scored"]),
        ("2", 45, at(chr2, 45), other_base(at(chr2, 45)), ["too_many_n"]),
        ("chrM", 30, at(mt, 30), other_base(at(mt, 30)), ["scored"]),
        ("chrX", 10, "A", "C", ["contig_missing"]),
    ]
    lines = [f"{c}\t{p}\tv{i + 1}\t{r}\t{a}\t50\tPASS\tDP={i}" for i, (c, p, r, a, _) in enumerate(cases)]
    plain = directory / "cases.vcf"
    plain.write_text(HEADER + "\n".join(lines) + "\n")
    vcf = directory / "cases.vcf.gz"
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    return {"genome": genome, "vcf": vcf, "plain": plain, "cases": cases, "chr1": chr1, "chr2": chr2}


@pytest.fixture(scope="module")
def hand_run(tiny_lm, hand, tmp_path_factory) -> dict:
    """One unchunked run over the hand cases, both strands."""
    outdir = tmp_path_factory.mktemp("hand_run")
    report = score_variants(
        str(tiny_lm),
        hand["genome"],
        hand["vcf"],
        outdir,
        prefix="cases",
        options=VariantOptions(strand_mode="both", device="cpu"),
    )
    return {"outdir": outdir, "report": report, "rows": read_tsv(outdir / "cases.scores.tsv")}


# ---------------------------------------------------------------------------- windows and conventions


def test_windows_snv_mnv_insertion_deletion_by_hand():
    context = "abcdefghijklmnopqrst"  # window 10: REF starts at offset 5 ("f")
    assert allele_windows(context, 1, "X", 10, 5) == ("abcdefghij", "abcdeXghij")  # SNV, centred
    assert allele_windows(context, 2, "XY", 10, 5) == ("abcdefghij", "abcdeXYhij")  # MNV in place
    assert allele_windows(context, 3, "f", 10, 5) == ("abcdefghij", "abcdefijkl")  # deletion: right flank extended
    assert allele_windows(context, 1, "fXYZ", 10, 5) == ("abcdefghij", "abcdefXYZg")  # insertion: flank trimmed
    assert allele_windows(context, 1, "f" + "X" * 8, 10, 5) == ("abcdefghij", "abcdefXXXX")  # insertion cut itself
    assert allele_windows(context, 1, "X", 10, 8) == ("abcdefghij", "abcdefghXj")  # slid window: off centre
    assert window_span(100, 1, 1, 10, 5) == (95, 105)
    assert window_span(5, 3, 1, 10, 5) == (0, 12)  # the deletion reads two bases past the window
    assert window_span(5, 1, 4, 10, 5) == (0, 10)
    assert window_span(100, 1, 1, 11, 5) == (95, 106)  # odd window: one more base on the right


def test_window_placement_centred_or_slid_inside_the_contig():
    # a 100-base contig, window 10
    assert window_placement(50, 1, 1, 10, 100, "center") == window_placement(50, 1, 1, 10, 100, "shift") == (45, 55, 5)
    assert window_placement(2, 1, 1, 10, 100, "center") is None  # would start at -3
    assert window_placement(2, 1, 1, 10, 100, "shift") == (0, 10, 2)  # slid right: REF at offset 2
    assert window_placement(97, 1, 1, 10, 100, "shift") == (90, 100, 7)  # slid left
    # a deletion of 4 at 93 reads genome[93 + 5 + 4, ...) centred; slid so that its right flank ends at 100
    assert window_placement(93, 5, 1, 10, 100, "center") is None
    start, end, offset = window_placement(93, 5, 1, 10, 100, "shift")
    assert (start, end, offset) == (86, 100, 7) and window_span(93, 5, 1, 10, offset) == (start, end)
    assert window_placement(3, 1, 1, 10, 8, "shift") is None  # the contig is shorter than the window


def test_changed_spans_and_allele_kinds():
    assert changed_spans("A", "G", 10) == ((10, 11), (10, 11))
    assert changed_spans("A", "ATG", 10) == ((11, 11), (11, 13))  # insertion: a junction in the reference
    assert changed_spans("ATG", "A", 10) == ((11, 13), (11, 11))
    assert changed_spans("ACG", "ATG", 10) == ((11, 12), (11, 12))
    assert [allele_kind(a) for a in ("ACGTN", "acgt", "<DEL>", "<*>", "*", ".", "G]17:198982]", "A.", "R")] == [
        None,
        None,
    ] + ["symbolic_allele"] * 6 + ["invalid_allele"]


def test_sign_conventions_by_hand():
    loss = score_fields(800_000, 200_000)  # p_ref 0.8, p_alt 0.2
    assert loss["delta"] == "-0.600000" and loss["diff"] == "-0.480000"  # -0.6 x max(0.8, 0.2)
    assert (
        float(loss["logor"]) == pytest.approx(np.log2(0.8 / 0.2) - np.log2(0.2 / 0.8), abs=1e-6)
        and float(loss["logor"]) > 0
    )
    gain = score_fields(200_000, 800_000)
    assert gain["delta"] == "0.600000" and gain["diff"] == "0.480000" and float(gain["logor"]) < 0
    extreme = score_fields(0, 1_000_000)  # clipped to [1e-6, 1 - 1e-6]
    assert float(extreme["logor"]) == pytest.approx(-2 * np.log2((1 - 1e-6) / 1e-6), abs=1e-5)


def test_contig_map_chr_prefix_and_mitochondria():
    genome = {"1": 100, "MT": 16569, "chr2": 50}
    contigs = ContigMap({"chr1": 100, "chrM": 16571, "2": 50}, genome)
    assert contigs.resolve("chr1") == "1" and contigs.resolve("2") == "chr2"
    assert contigs.resolve("chrM") is None and "16571" in contigs.notes["chrM"]  # hg19's chrM is not rCRS
    assert ContigMap({}, genome).resolve("chrM") is None  # no length in the header: not mapped
    assert ContigMap({}, genome).resolve("chr1") == "1"
    assert ContigMap({"chrM": 16569}, genome).resolve("chrM") == "MT"
    assert ContigMap({"chr1": 99}, genome).resolve("chr1") is None  # lengths disagree
    assert contigs.report()["renamed"] == {"2": "chr2", "chr1": "1"}


# ---------------------------------------------------------------------------- statuses and outputs


def test_every_status_every_record_in_input_order(hand, hand_run):
    rows, report = hand_run["rows"], hand_run["report"]
    expected = [(i + 1, status) for i, case in enumerate(hand["cases"]) for status in case[4]]
    assert [(int(r["record"]), r["status"]) for r in rows] == expected
    assert [r["id"] for r in rows if r["allele_index"] == "1"] == [f"v{i + 1}" for i in range(len(hand["cases"]))]
    assert report["records"] == {"input": 18, "reported": 18}
    statuses = report["alleles"]["by_status"]
    assert sum(statuses.values()) == report["alleles"]["total"] == len(expected)
    assert all(
        statuses[s]
        for s in (
            "scored",
            "contig_missing",
            "outside_contig",
            "ref_mismatch",
            "symbolic_allele",
            "invalid_allele",
            "window_off_contig",
            "too_many_n",
        )
    )
    assert report["contigs"]["mapping"] == {"2": "chr2", "chr1": "chr1", "chrM": "MT", "chrX": None}
    for row in rows:
        assert (row["p_ref"] != "") == (row["status"] == "scored")
        assert row["tfbs_gain"] == row["tfbs_loss"] == ""  # no --motifs
        if row["status"] == "scored":
            delta = int(row["p_alt"].replace(".", "")) - int(row["p_ref"].replace(".", ""))
            assert int(row["delta"].replace(".", "")) == delta
    assert report["parameters"]["window"] == W and report["conventions"]["eps"] == 1e-6


def test_vcf_output_header_info_and_tabix_region(hand, hand_run):
    path = hand_run["outdir"] / "cases.scored.vcf.gz"
    assert Path(f"{path}.tbi").is_file()
    vcf = cyvcf2.VCF(str(path))
    for key in ("ENHLM_PREF", "ENHLM_PALT", "ENHLM_DELTA", "ENHLM_DIFF", "ENHLM_LOGOR", "ENHLM_STATUS"):
        declared = vcf.get_header_type(key)
        assert declared["Number"] == "A" and declared["Type"] == ("String" if key == "ENHLM_STATUS" else "Float")
    header = vcf.raw_header
    for key in ("version", "model", "weights_sha256", "command"):
        assert f"##enhancerlm_{key}=" in header
    assert "##enhancerlm_model=tiny" in header and "--window 20 --strand-mode both" in header
    records = list(vcf)
    assert [(r.CHROM, r.POS) for r in records] == [(c, p) for c, p, *_ in hand["cases"]]
    multi = records[2]
    assert multi.INFO["ENHLM_STATUS"] == "scored,symbolic_allele,symbolic_allele"
    assert multi.INFO["DP"] == 2  # the input's INFO is kept
    region = [r.ID for r in cyvcf2.VCF(str(path))("chr1:95-125")]
    assert region == ["v6", "v7"]
    assert [r.ID for r in cyvcf2.VCF(str(path))("chrM:1-60")] == ["v17"]


def test_both_strands_average_forward_and_reverse_complement(tiny_lm, hand, hand_run):
    model = load_trained(str(tiny_lm))
    row = hand_run["rows"][0]  # chr1:50 SNV
    p = 50 - 1
    ref = hand["chr1"][p - W // 2 : p + W // 2]
    alt = ref[: W // 2] + row["alt"] + ref[W // 2 + 1 :]

    def strands(sequence: str) -> float:
        forward = model.predict_proba([sequence], both_strands=False)[0]
        backward = model.predict_proba([reverse_complement(sequence)], both_strands=False)[0]
        return (forward + backward) / 2

    assert float(row["p_ref"]) == pytest.approx(strands(ref), abs=2e-6)
    assert float(row["p_alt"]) == pytest.approx(strands(alt), abs=2e-6)
    assert float(row["p_ref"]) != pytest.approx(model.predict_proba([ref], both_strands=False)[0], abs=1e-6)


def test_card_strand_mode_is_the_default_and_forward_scores_one_strand(tiny_lm, hand, hand_run, tmp_path):
    report = score_variants(
        str(tiny_lm), hand["genome"], hand["vcf"], tmp_path, prefix="fwd", options=VariantOptions(device="cpu")
    )
    assert report["parameters"]["strand_mode"] == "forward"  # the card's
    row = read_tsv(tmp_path / "fwd.scores.tsv")[0]
    ref = hand["chr1"][49 - W // 2 : 49 + W // 2]
    assert float(row["p_ref"]) == pytest.approx(
        load_trained(str(tiny_lm)).predict_proba([ref], both_strands=False)[0], abs=2e-6
    )


def test_bcf_input_and_rescoring_a_scored_vcf_give_the_same_scores(tiny_lm, hand, hand_run, tmp_path):
    template = cyvcf2.VCF(str(hand["vcf"]))
    bcf = tmp_path / "cases.bcf"
    writer = cyvcf2.Writer(str(bcf), template, mode="wb")
    for record in template:
        writer.write_record(record)
    writer.close()
    options = VariantOptions(strand_mode="both", device="cpu")
    score_variants(str(tiny_lm), hand["genome"], bcf, tmp_path / "bcf", prefix="cases", options=options)
    expected = (hand_run["outdir"] / "cases.scores.tsv").read_text()
    assert (tmp_path / "bcf" / "cases.scores.tsv").read_text() == expected
    again = tmp_path / "again"
    score_variants(
        str(tiny_lm), hand["genome"], hand_run["outdir"] / "cases.scored.vcf.gz", again, prefix="cases", options=options
    )
    assert (again / "cases.scores.tsv").read_text() == expected
    body = vcf_body(again / "cases.scored.vcf.gz")
    assert body == vcf_body(hand_run["outdir"] / "cases.scored.vcf.gz")  # old ENHLM_ values replaced, not doubled
    assert sum(line.startswith("##INFO=<ID=ENHLM_PREF") for line in gzip.open(again / "cases.scored.vcf.gz", "rt")) == 1


def test_unsorted_input_is_scored_without_an_index(tiny_lm, hand, tmp_path):
    lines = hand["plain"].read_text().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    vcf = tmp_path / "unsorted.vcf"
    vcf.write_text("".join(header + [body[1], body[0]] + body[2:]))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "unsorted.scored.vcf.gz.tbi").write_text("stale")
    report = score_variants(str(tiny_lm), hand["genome"], vcf, tmp_path / "out", options=VariantOptions(device="cpu"))
    assert report["outputs"]["tbi"] is None and "not sorted" in report["outputs"]["tbi_note"]
    assert not (tmp_path / "out" / "unsorted.scored.vcf.gz.tbi").exists()
    assert [r["id"] for r in read_tsv(tmp_path / "out" / "unsorted.scores.tsv")][:2] == ["v2", "v1"]


BAD_LINES = [
    ("chr1\t30\t.\tA", "expected at least 8 tab-separated columns"),
    ("chr1\tx30\t.\tA\tG\t.\t.\t.", "POS is not a non-negative integer: 'x30'"),
    ("chr1\t30\t.\tA\tG\tabc\t.\t.", "QUAL is neither a number nor '.'"),
    ("chr1\t30\t.\t\tG\t.\t.\t.", "REF is not a sequence of bases"),
    ("chr1\t30\t.\tA\tG,\t.\t.\t.", "ALT is empty or has an empty allele"),
    ("", "blank line between records"),
]


@pytest.mark.parametrize("bad, reason", BAD_LINES)
def test_malformed_vcf_names_file_line_and_reason(tiny_lm, hand, tmp_path, bad, reason):
    vcf = tmp_path / "bad.vcf"
    good = "chr1\t{}\t.\t{}\tG\t.\t.\t."
    vcf.write_text(
        HEADER + good.format(20, hand["chr1"][19]) + "\n" + bad + "\n" + good.format(40, hand["chr1"][39]) + "\n"
    )
    with pytest.raises(InputError) as error:
        score_variants(str(tiny_lm), hand["genome"], vcf, tmp_path / "out", options=VariantOptions(device="cpu"))
    assert str(error.value).startswith(f"{vcf}: line 9: ") and reason in str(error.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written


def test_malformed_header_and_missing_file(tiny_lm, hand, tmp_path):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("##fileformat=VCFv4.2\nchr1\t10\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputError, match=r"bad.vcf: line 2: expected a ## meta line or the #CHROM header line"):
        score_variants(str(tiny_lm), hand["genome"], vcf, tmp_path / "out", options=VariantOptions(device="cpu"))
    with pytest.raises(InputError, match="VCF not found"):
        score_variants(str(tiny_lm), hand["genome"], tmp_path / "none.vcf", tmp_path / "out")


# ---------------------------------------------------------------------------- chunks


def test_chunked_runs_merge_to_the_unchunked_output(tiny_lm, hand, hand_run, tmp_path):
    chunks = ["chr1:0-100", "chr1:100-200", "chr2:0-100", "MT:0-60", "unplaced"]
    for number, chunk in enumerate(chunks):
        score_variants(
            str(tiny_lm),
            hand["genome"],
            hand["vcf"],
            tmp_path / f"chunk{number}",
            prefix="cases",
            options=VariantOptions(strand_mode="both", chunk=chunk, device="cpu"),
        )
    unplaced = read_tsv(tmp_path / "chunk4" / "cases.scores.tsv")
    assert [r["status"] for r in unplaced] == ["outside_contig", "contig_missing"]
    merged = merge_variants([tmp_path / f"chunk{n}" for n in range(len(chunks))], tmp_path / "merged", prefix="cases")
    whole, out = hand_run["outdir"], tmp_path / "merged"
    assert (out / "cases.scores.tsv").read_bytes() == (whole / "cases.scores.tsv").read_bytes()
    assert vcf_body(out / "cases.scored.vcf.gz") == vcf_body(whole / "cases.scored.vcf.gz")
    assert Path(f"{out}/cases.scored.vcf.gz.tbi").is_file()
    single = hand_run["report"]
    for key in ("records", "alleles", "tfbs", "delta_distribution", "top_gains", "top_losses", "contigs"):
        assert merged[key] == single[key], key
    assert merged["chunks"] == sorted(chunks)
    with pytest.raises(InputError, match=r"records 13 of the input VCF are in no chunk.*--chunk unplaced"):
        merge_variants([tmp_path / f"chunk{n}" for n in range(4)], tmp_path / "bad", prefix="cases")
    with pytest.raises(InputError, match="record 1 of the input VCF is also in another chunk"):
        merge_variants([tmp_path / "chunk0", whole], tmp_path / "bad", prefix="cases")
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_cli_variants_and_merge_end_to_end(tiny_lm, hand, tmp_path):
    result = invoke(
        "variants",
        "--model",
        tiny_lm,
        "--genome",
        hand["genome"],
        "--vcf",
        hand["vcf"],
        "--outdir",
        tmp_path / "a",
        "--prefix",
        "cli",
        "--chunk",
        "chr1:0-100",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cli\trecords=6\talleles=8\tscored=3\t")
    result = invoke("merge-variants", "--input", tmp_path / "a" / "cli", "--outdir", tmp_path / "m", "--prefix", "m")
    assert result.exit_code != 0 and "in no chunk" in result.output
    result = invoke(
        "variants",
        "--model",
        tiny_lm,
        "--genome",
        hand["genome"],
        "--vcf",
        hand["vcf"],
        "--outdir",
        tmp_path / "b",
        "--window",
        500,
    )
    assert result.exit_code == 1 and "longer than the" in result.output
    result = invoke(
        "variants",
        "--model",
        tiny_lm,
        "--genome",
        hand["genome"],
        "--vcf",
        hand["vcf"],
        "--outdir",
        tmp_path / "b",
        "--chunk",
        "chrX:0-10",
    )
    assert result.exit_code == 1 and "not in the genome" in result.output
    mqc = (tmp_path / "a" / "cli.variants_mqc.tsv").read_text().splitlines()
    assert mqc[-2].startswith("Sample\tRecords\tAlleles\tScored") and mqc[-1].startswith("cli\t6\t8\t3\t")
    deltas = json.loads((tmp_path / "a" / "cli.variant_deltas_mqc.json").read_text())
    assert deltas["plot_type"] == "linegraph" and sum(deltas["data"]["cli"].values()) == 3


# ---------------------------------------------------------------------------- a planted motif, the real demo VCF


def test_snv_in_planted_motif_lowers_p_and_loses_the_site(tmp_path):
    sheet = planted_samplesheet(tmp_path / "data")
    dataset = prepare_samplesheet(sheet, tmp_path / "prepared", folds=3)["planted"]["dataset"]
    train(dataset, "kmer-baseline", tmp_path / "model", options=TrainOptions())
    rng = np.random.default_rng(5)
    chromosome = random_dna(rng, 150) + MOTIF + random_dna(rng, 150)
    genome = tmp_path / "genome.fa"
    genome.write_text(f">chrP\n{chromosome}\n")
    pos = 150 + 3 + 1  # 1-based: the C of the first TGACTCA (C>G would make TGAGTCA, a hit on -)
    vcf = tmp_path / "motif.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chrP,length=317>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\t"
        f"INFO\nchrP\t{pos}\tsnv\tC\tA\t.\t.\t.\nchrP\t60\tfar\t{chromosome[59]}\t"
        f"{other_base(chromosome[59])}\t.\t.\t.\n"
    )
    pfm = np.full((7, 4), 0.01)
    for row, base in enumerate("TGACTCA"):
        pfm[row, "ACGT".index(base)] = 0.97
    meme = write_meme({"AP1": pfm}, tmp_path / "ap1.meme")
    result = invoke(
        "variants",
        "--model",
        tmp_path / "model",
        "--genome",
        genome,
        "--vcf",
        vcf,
        "--outdir",
        tmp_path / "out",
        "--prefix",
        "motif",
        "--motifs",
        meme,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    snv, far = read_tsv(tmp_path / "out" / "motif.scores.tsv")
    assert snv["status"] == "scored" and float(snv["delta"]) < 0 and float(snv["logor"]) > 0
    assert snv["tfbs_loss"].startswith("AP1:TGACTCA:+:") and snv["tfbs_gain"] == "."
    assert far["tfbs_loss"] == far["tfbs_gain"] == "."
    report = json.loads((tmp_path / "out" / "motif.variants.json").read_text())
    assert report["tfbs"] == {"alleles_with_loss": 1, "alleles_with_gain": 0}
    assert report["top_losses"][0]["id"] == "snv" or report["top_losses"][0]["delta"] <= float(snv["delta"])
    record = next(iter(cyvcf2.VCF(str(tmp_path / "out" / "motif.scored.vcf.gz"))))
    assert record.INFO["ENHLM_TFBS_LOSS"].startswith("AP1:TGACTCA:+:")
    assert cyvcf2.VCF(str(tmp_path / "out" / "motif.scored.vcf.gz")).get_header_type("ENHLM_TFBS_GAIN")["Number"] == "A"


def test_bundled_demo_vcf_every_record_accounted_for(mini_model, tmp_path):
    demo = resource("assets/data/hg19-chr22-demo")
    report = score_variants(
        str(mini_model),
        demo / "chr22_demo.fa.gz",
        demo / "1kg_phase3_chr22_demo.sites.vcf.gz",
        tmp_path,
        prefix="demo",
        options=VariantOptions(window=100, strand_mode="both", device="cpu"),
    )
    assert report["records"] == {"input": 2185, "reported": 2185}
    assert sum(report["alleles"]["by_status"].values()) == report["alleles"]["total"] >= 2185
    assert report["alleles"]["scored"] > 2000
    assert report["contigs"]["mapping"] == {"22": "22"}
    assert report["delta_distribution"]["scored"] == report["alleles"]["scored"]
    assert len(vcf_body(tmp_path / "demo.scored.vcf.gz")) == 2185
    assert len(list(cyvcf2.VCF(str(tmp_path / "demo.scored.vcf.gz"))("22:17450000-17470000"))) > 0


def test_the_recorded_command_repeats_the_run_with_every_option(tmp_path):
    """The scored VCF and the report record the command that repeats the run: parsed by the CLI, it gives back
    every option the run used (so an option added to the CLI but not to the record fails here)."""
    (tmp_path / "g.fa").write_text(">chr1\nACGT\n")
    for name in ("v.vcf", "m.meme", "g.fa.fai", "g.fa.gzi"):
        (tmp_path / name).write_text("")
    (tmp_path / "model").mkdir()
    used = VariantOptions(
        window=40,
        strand_mode="forward",
        max_n_fraction=0.3,
        edge="shift",
        motifs="jaspar",
        jaspar_release="JASPAR2022",
        tax_group="insects",
        motif_threshold=0.001,
        chunk="chr1:0-4",
        batch_size=7,
        device="cpu",
    )
    assert all(getattr(used, f.name) != f.default for f in dataclasses.fields(VariantOptions)), "test every option"
    command = command_line(
        str(tmp_path / "model"),
        tmp_path / "g.fa",
        tmp_path / "v.vcf",
        tmp_path / "out",
        "run",
        used,
        used.window,
        used.strand_mode,
        tmp_path / "g.fa.fai",
        tmp_path / "g.fa.gzi",
    )
    argv = shlex.split(command)
    assert argv[:2] == ["enhancerlm", "variants"]
    ctx = main.make_context("enhancerlm", argv[1:])
    name, subcommand, rest = main.resolve_command(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
    parsed = subcommand.make_context(name, rest, parent=ctx).params
    assert VariantOptions(**{f.name: parsed[f.name] for f in dataclasses.fields(VariantOptions)}) == used
    assert (parsed["prefix"], parsed["fai"], parsed["gzi"]) == (
        "run",
        str(tmp_path / "g.fa.fai"),
        str(tmp_path / "g.fa.gzi"),
    )


def test_edge_shift_slides_off_contig_windows_and_records_the_offset(tiny_lm, hand, hand_run, tmp_path):
    """--edge shift scores the three hand cases whose centred window runs off a contig (a SNV 5 bases from the start
    of chr2, a SNV 6 bases from the end of chr1, a deletion whose right flank runs past it), each window computed
    by hand; every other allele is scored exactly as centred, and chunks still merge to the unchunked run."""
    options = VariantOptions(strand_mode="both", edge="shift", device="cpu")
    report = score_variants(
        str(tiny_lm), hand["genome"], hand["vcf"], tmp_path / "whole", prefix="cases", options=options
    )
    rows, centred = read_tsv(tmp_path / "whole" / "cases.scores.tsv"), hand_run["rows"]
    assert report["parameters"]["edge"] == "shift" and report["alleles"]["by_status"]["window_off_contig"] == 0
    slid = {row["id"]: row for row, before in zip(rows, centred) if before["status"] == "window_off_contig"}
    assert sorted(slid) == ["v11", "v12", "v14"] and all(row["status"] == "scored" for row in slid.values())
    for row, before in zip(rows, centred):
        if row["id"] not in slid:
            same = {k: v for k, v in row.items() if k != "window_offset"}
            assert same == {k: v for k, v in before.items() if k != "window_offset"}
            assert row["window_offset"] == ("10" if row["status"] == "scored" else "")

    model = load_trained(str(tiny_lm))
    chr1, chr2 = hand["chr1"], hand["chr2"]
    expected = {  # id: (offset, reference window, alternative window)
        "v14": (4, chr2[0:20], chr2[0:4] + slid["v14"]["alt"] + chr2[5:20]),
        "v12": (14, chr1[180:200], chr1[180:194] + slid["v12"]["alt"] + chr1[195:200]),
        "v11": (15, chr1[169:189], chr1[169:184] + slid["v11"]["alt"] + chr1[196:200]),  # REF 184..196 deleted
    }
    for variant, (offset, ref, alt) in expected.items():
        assert len(ref) == len(alt) == W
        p_ref, p_alt = model.predict_proba([ref, alt], both_strands=True)
        assert int(slid[variant]["window_offset"]) == offset
        assert float(slid[variant]["p_ref"]) == pytest.approx(p_ref, abs=2e-6)
        assert float(slid[variant]["p_alt"]) == pytest.approx(p_alt, abs=2e-6)
    vcf = cyvcf2.VCF(str(tmp_path / "whole" / "cases.scored.vcf.gz"))
    assert vcf.get_header_type("ENHLM_OFFSET")["Type"] == "Integer"
    offsets = {record.ID: record.INFO.get("ENHLM_OFFSET") for record in vcf}
    assert (offsets["v14"], offsets["v12"], offsets["v1"]) == (4, 14, 10) and offsets["v2"] is None
    assert "ENHLM_OFFSET" not in cyvcf2.VCF(str(hand_run["outdir"] / "cases.scored.vcf.gz")).raw_header

    for number, chunk in enumerate(["chr1:0-100", "chr1:100-200", "chr2:0-100", "MT:0-60", "unplaced"]):
        chunk_options = VariantOptions(strand_mode="both", edge="shift", chunk=chunk, device="cpu")
        score_variants(
            str(tiny_lm), hand["genome"], hand["vcf"], tmp_path / f"c{number}", prefix="cases", options=chunk_options
        )
    merge_variants([tmp_path / f"c{n}" for n in range(5)], tmp_path / "merged", prefix="cases")
    assert (tmp_path / "merged" / "cases.scores.tsv").read_bytes() == (
        tmp_path / "whole" / "cases.scores.tsv"
    ).read_bytes()
    with pytest.raises(InputError, match="edge"):  # a centred and a slid chunk do not merge
        merge_variants([tmp_path / "c0", hand_run["outdir"]], tmp_path / "bad", prefix="cases")


def test_the_throughput_benchmark_builds_the_windows_variants_scores(hand, hand_run, monkeypatch):
    """benchmarks/variants_throughput.py's bare and naive baselines rebuild the windows from the library's own
    functions: the same number of alleles as `variants` scores (a changed signature would break it here)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import variants_throughput

    monkeypatch.setattr(variants_throughput, "WINDOW", W)
    pairs = variants_throughput.allele_windows_of(hand["genome"], hand["plain"])
    # it reads contigs as the VCF names them (chr1 only here: no renaming) and does not screen for N
    windowed = [r for r in hand_run["rows"] if r["chrom"] == "chr1" and r["status"] in ("scored", "too_many_n")]
    assert len(windowed) >= 6 and pairs.shape == (len(windowed), 2, W)


def test_a_forward_only_model_scores_a_window_alike_in_a_scan_and_as_a_variant(mini_model, tmp_path):
    """One strand rule: a model trained without --rc-augment is scanned and variant-scored on the forward strand
    (its card's mode), so a variant's reference probability is the scan's score of the same window."""
    from enhancerlm.commands.predict import ScanOptions, predict

    assert json.loads((mini_model / "enhancerlm.json").read_text())["strand_mode"] == "forward"
    sequence = random_dna(np.random.default_rng(5), 1_000)
    genome = tmp_path / "genome.fa"
    genome.write_text(f">chr1\n{sequence}\n")
    scanned = {}
    for mode in (None, "both"):
        options = ScanOptions(stride=50, threshold=0.5, calibrate=False, strand_mode=mode, device="cpu")
        report = predict(str(mini_model), genome, tmp_path / f"scan_{mode}", prefix="scan", options=options)
        assert report["parameters"]["strand_mode"] == (mode or "forward")  # predict.json records the mode used
        lines = (tmp_path / f"scan_{mode}" / "scan.windows.bedgraph").read_text().splitlines()
        # a window's score lies on its centre tile, (200 - 50) // 2 = 75 bases into it
        scanned[mode] = {int(line.split("\t")[1]) - 75: line.split("\t")[3] for line in lines}
    assert scanned[None][400] != scanned["both"][400]
    centre = 400 + 100  # the variant's window is centred on it: the scan window starting at 400
    vcf = tmp_path / "one.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t{centre + 1}\tv1\t{sequence[centre]}\t{other_base(sequence[centre])}\t.\t.\t.\n"
    )
    for mode in (None, "both"):
        report = score_variants(
            str(mini_model), genome, vcf, tmp_path / f"variants_{mode}", options=VariantOptions(strand_mode=mode)
        )
        assert report["parameters"]["strand_mode"] == (mode or "forward")
        (row,) = read_tsv(tmp_path / f"variants_{mode}" / "one.scores.tsv")
        assert row["p_ref"] == scanned[mode][400]
