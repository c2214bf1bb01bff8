"""Motif discovery stages that need no model, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from enhancerlm.analysis.attribution import nucleotide_scores, offsets_to_nucleotide_scores
from enhancerlm.analysis.known_motifs import load_motifs, match_motifs, scan_motifs
from enhancerlm.analysis.motif_discovery import (
    alignment_score,
    attended_kmers,
    best_alignment,
    candidate_regions,
    canonical_codes,
    decode_kmer,
    hypergeometric_enrichment,
    merge_candidates,
    motif_instances,
    pfm_from_instances,
    pick_candidates,
    split_halves,
)
from enhancerlm.commands.motifs import track_lines
from enhancerlm.core.dna import consensus, reverse_complement
from enhancerlm.core.stats import bh_qvalues
from enhancerlm.errors import InputError
from enhancerlm.formats.meme import read_meme, write_meme


def test_kmer_scores_spread_and_averaged():
    # k = 3, 6 nt, 4 tokens: nucleotide i is covered by tokens max(0, i-2)..min(i, 3)
    raw = np.array([1.0, (1 + 2) / 2, (1 + 2 + 3) / 3, (2 + 3 + 4) / 3, (3 + 4) / 2, 4.0])
    result = nucleotide_scores(np.array([1.0, 2.0, 3.0, 4.0]), k=3, length=6)
    np.testing.assert_allclose(result, raw / math.sqrt(44.5))
    assert np.linalg.norm(result) == pytest.approx(1.0)


def test_kmer_scores_batch_zero_row_and_errors():
    batch = nucleotide_scores(np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]]), k=3, length=6)
    assert batch.shape == (2, 6)
    np.testing.assert_allclose(batch[0], nucleotide_scores(np.array([1.0, 2.0, 3.0, 4.0]), 3, 6))
    np.testing.assert_array_equal(batch[1], np.zeros(6))
    with pytest.raises(InputError, match="do not fit"):
        nucleotide_scores(np.ones(5), k=3, length=6)


def test_offsets_spread_and_special_tokens_ignored():
    scores = np.array([9.0, 2.0, 4.0, 6.0, 9.0])  # [CLS] ACG TA AC [SEP]
    offsets = np.array([(0, 0), (0, 3), (3, 5), (4, 6), (0, 0)])
    raw = np.array([2.0, 2.0, 2.0, 4.0, (4 + 6) / 2, 6.0])
    result = offsets_to_nucleotide_scores(scores, offsets, length=6)
    np.testing.assert_allclose(result, raw / math.sqrt(89.0))
    uncovered = offsets_to_nucleotide_scores(np.array([3.0]), np.array([(1, 2)]), length=3)
    np.testing.assert_allclose(uncovered, [0.0, 1.0, 0.0])
    batch = offsets_to_nucleotide_scores(scores[None], offsets[None], length=6)
    np.testing.assert_allclose(batch[0], result)
    with pytest.raises(InputError, match="offsets"):
        offsets_to_nucleotide_scores(scores, offsets[:, :1], length=6)
    with pytest.raises(InputError, match="start <= end"):
        offsets_to_nucleotide_scores(np.array([1.0]), np.array([(2, 7)]), length=6)


# mean 5.5: high at 2-4, 6-7, 10-13; one low nucleotide (5) and then two (8, 9) between runs
GAPPED = np.array([1, 1, 9, 9, 9, 1, 9, 9, 1, 1, 9, 9, 9, 9, 1, 1], dtype=float)


def test_regions_bridge_one_gap_not_two():
    assert candidate_regions(GAPPED, min_len=4) == [(2, 8), (10, 14)]
    assert candidate_regions(GAPPED, min_len=1, gap=0) == [(2, 5), (6, 8), (10, 14)]
    assert candidate_regions(GAPPED, min_len=1, gap=2) == [(2, 14)]


def test_regions_min_len_filter():
    assert candidate_regions(GAPPED, min_len=5) == [(2, 8)]
    assert candidate_regions(GAPPED, min_len=7) == []


def test_regions_f_filter():
    scores = np.array([1] * 4 + [12] * 5 + [8] * 5 + [1] * 4, dtype=float)  # mean 6, min 1
    assert candidate_regions(scores, f=1.0) == [(4, 14)]
    assert candidate_regions(scores, f=10.0) == [(4, 9)]  # only 12 > 10 * min
    assert candidate_regions(np.ones(8)) == []
    assert candidate_regions(np.array([])) == []


def test_enrichment_hand_case_counts_both_strands():
    positives = ["CCAAAACCC", "GGGTTTTGG", "CCCCCCCCC"]  # the second has only the reverse complement
    negatives = ["CCCCCCCCC", "GGGGGGGGG", "CCAAAACAA"]
    table = hypergeometric_enrichment(["AAAAC", "tttttt"], positives, negatives)
    assert list(table.columns) == ["candidate", "n_positive", "n_negative", "p_value", "q_value"]
    assert table["n_positive"].tolist() == [2, 0]
    assert table["n_negative"].tolist() == [1, 0]
    # P(X >= 2) drawing 3 of 6 with 3 positives: (C(3,2)C(3,1) + C(3,3)) / C(6,3) = 10 / 20
    assert table["p_value"].tolist() == pytest.approx([0.5, 1.0])
    assert table["q_value"].tolist() == pytest.approx([1.0, 1.0])
    assert reverse_complement("AAAAC") == "GTTTT"


def test_enrichment_matches_scipy():
    rng = np.random.default_rng(1)
    positives = ["".join(rng.choice(list("ACGT"), 30)) + "TGACTCA" for _ in range(20)]
    negatives = ["".join(rng.choice(list("ACGT"), 37)) for _ in range(25)]
    table = hypergeometric_enrichment(["TGACTCA", "ACG", "GGGG"], positives, negatives)
    for row in table.itertuples():
        expected = stats.hypergeom.sf(row.n_positive - 1, M=45, n=20, N=row.n_positive + row.n_negative)
        assert row.p_value == pytest.approx(expected)
    assert table.loc[0, "n_positive"] == 20
    with pytest.raises(InputError, match="ACGT"):
        hypergeometric_enrichment(["ACNT"], positives, negatives)


def test_bh_qvalues_hand_computed():
    # sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.06, 0.0533, 0.20 -> running minimum from the top
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.20]))
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    np.testing.assert_allclose(bh_qvalues(np.array([0.5, 0.9, 0.8])), [0.9, 0.9, 0.9])
    assert bh_qvalues(np.array([])).size == 0
    with pytest.raises(InputError):
        bh_qvalues(np.array([0.1, np.nan]))


def test_bh_qvalues_match_scipy():
    p = np.random.default_rng(2).uniform(size=50) ** 3
    np.testing.assert_allclose(bh_qvalues(p), stats.false_discovery_control(p, method="bh"))


def test_merge_overlapping_not_unrelated():
    assert alignment_score("ACGTACG", "CGTACGT") == 6  # shifted by one
    groups = merge_candidates(["ACGTACG", "CGTACGT", "TTTTTTT", "GCGTACG", "acgtacg"], min_len=5)
    assert groups == [["ACGTACG", "CGTACGT", "GCGTACG"], ["TTTTTTT"]]
    assert merge_candidates(["ACGTA", "TTTTT"]) == [["ACGTA"], ["TTTTT"]]


def test_pfm_frequencies_and_centring():
    pfm = pfm_from_instances(["ACGT", "ACGA", "TCGA"])
    expected = np.array([[2 / 3, 0, 0, 1 / 3], [0, 1, 0, 0], [0, 0, 1, 0], [2 / 3, 0, 0, 1 / 3]])
    np.testing.assert_allclose(pfm, expected)
    centred = pfm_from_instances(["AC", "GTCT"], width=4)  # AC sits at positions 1-2
    np.testing.assert_allclose(centred, [[0, 0, 1, 0], [0.5, 0, 0, 0.5], [0, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_allclose(pfm_from_instances(["GACTT"], width=3), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    with pytest.raises(InputError, match="differ in length"):
        pfm_from_instances(["ACG", "AC"])


def test_meme_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    motifs = {name: rng.dirichlet(np.ones(4), size=width) for name, width in (("m1", 6), ("m2", 9))}
    path = write_meme(motifs, tmp_path / "motifs.meme", nsites={"m1": 12})
    text = path.read_text()
    for line in (
        "MEME version 4",
        "ALPHABET= ACGT",
        "strands: + -",
        "Background letter frequencies",
        "A 0.250000 C 0.250000 G 0.250000 T 0.250000",
        "letter-probability matrix: alength= 4 w= 6 nsites= 12 E= 0",
        "letter-probability matrix: alength= 4 w= 9 nsites= 20 E= 0",
    ):
        assert line in text.splitlines()
    assert any(line.startswith("MOTIF m1 ") for line in text.splitlines())
    back = read_meme(path)
    assert list(back) == ["m1", "m2"]
    for name, pfm in motifs.items():
        np.testing.assert_array_equal(back[name], [[float(f"{v:.6f}") for v in row] for row in pfm])
        np.testing.assert_allclose(back[name], pfm, atol=5e-7)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("not meme\n", 1),
        ("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2\n0.1 0.2 0.3 0.4\n0.1 x 0.3 0.6\n", 6),
        ("MEME version 4\nMOTIF m1\nletter-probability matrix: alength= 4\n0.1 0.2 0.3 0.4\n", 3),
        ("MEME version 4\nMOTIF m1\nletter-probability matrix: alength= 4 w= 3\n0.1 0.2 0.3 0.4\n", 5),
    ],
)
def test_malformed_meme_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.meme: line {line}:"):
        read_meme(path)


def test_write_meme_rejects_bad_matrix(tmp_path):
    with pytest.raises(InputError, match="'m1'"):
        write_meme({"m1": np.ones((3, 4))}, tmp_path / "x.meme")
    assert not (tmp_path / "x.meme").exists()


def test_canonical_codes_pick_the_smaller_strand():
    codes = np.array([0b000001, 47, 0b011011])  # AAC, GTT (its reverse complement), CGT (ACG reversed-complemented)
    assert decode_kmer(1, 3) == "AAC" and decode_kmer(47, 3) == "GTT"
    np.testing.assert_array_equal(canonical_codes(codes, 3), [1, 1, min(27, 6)])  # ACG = 0*16+1*4+2 = 6


def test_attended_kmers_against_a_brute_force_count():
    sequences = ["ACGTACGTAC", "TTTACGTTTT", "GGGCCCAAAT"]
    scores = [
        np.array([0, 0, 5, 5, 5, 5, 5, 5, 0, 0.0]),
        np.array([0, 0, 0, 4, 4, 4, 4, 4, 0, 0.0]),
        np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1.0]),
    ]
    table, rate = attended_kmers(sequences, scores, width=3, min_len=5, f=1.0, gap=1)
    regions = [[(2, 8)], [(3, 8)], []]  # the flat third sequence has no nucleotide above its mean
    canonical = lambda kmer: min(kmer, reverse_complement(kmer))  # noqa: E731
    present, attended, inside = {}, {}, 0
    for sequence, spans in zip(sequences, regions):
        seen, hit = set(), set()
        for i in range(len(sequence) - 2):
            kmer = canonical(sequence[i : i + 3])
            seen.add(kmer)
            if any(s <= i and i + 3 <= e for s, e in spans):
                hit.add(kmer)
                inside += 1
        for kmer in seen:
            present[kmer] = present.get(kmer, 0) + 1
        for kmer in hit:
            attended[kmer] = attended.get(kmer, 0) + 1
    assert rate == pytest.approx(inside / 24)
    assert dict(zip(table["kmer"], table["n_present"])) == present
    assert dict(zip(table["kmer"], table["n_attended"])) == {k: attended.get(k, 0) for k in present}
    row = table.set_index("kmer").loc["ACG"]
    assert row["attention_p"] == pytest.approx(stats.binom.sf(row["n_attended"] - 1, row["n_present"], rate))


def test_pick_candidates_needs_counts_and_significance():
    table = pd.DataFrame(
        {
            "kmer": ["AAA", "CCC", "GGA", "TTG"],
            "n_attended": [5, 2, 9, 4],
            "n_present": [5, 2, 30, 4],
            "attention_p": [1e-4, 1e-5, 0.5, 1e-3],
        }
    )
    assert pick_candidates(table, min_count=3, max_p=0.01) == ["AAA", "TTG"]


def test_best_alignment_reports_the_offset():
    assert best_alignment("ACGTAC", "GTA") == (3, 2)
    assert best_alignment("ACGTAC", "TTACG") == (3, -2)


def test_merging_on_both_strands_keeps_the_aligned_orientation():
    assert merge_candidates(["AAACCCG", "GCGGGTT"], 5) == [["AAACCCG"], ["GCGGGTT"]]
    assert merge_candidates(["AAACCCG", "GCGGGTT"], 5, both_strands=True) == [["AAACCCG", "AACCCGC"]]


def test_motif_instances_anchor_members_on_the_seed_and_read_both_strands():
    group = ["ACGTA", "CGTAC"]  # CGTAC starts one position after ACGTA
    assert motif_instances(group, ["TTACGTACTT"], width=4) == ["ACGTAC", "ACGTAA"]
    assert motif_instances(group, ["TTACGTACTT"], width=10) == ["TTACGTACTT", "GTACGTAANN"]


def test_track_lines_use_coordinates_from_names():
    assert list(track_lines("chr2_100_103", np.array([0.5, 0.25, 1.0]))) == [
        "chr2\t100\t101\t0.5\n",
        "chr2\t101\t102\t0.25\n",
        "chr2\t102\t103\t1\n",
    ]
    assert next(track_lines("chr2_100_200", np.array([0.5]))) == "chr2_100_200\t0\t1\t0.5\n"  # length disagrees
    assert next(track_lines("seq7", np.array([0.125]))) == "seq7\t0\t1\t0.125\n"


def test_split_halves_take_a_share_of_each_class():
    table = pd.DataFrame({"label": [1] * 10 + [0] * 6})
    chosen = split_halves(table, 0.5, seed=1)
    assert chosen[:10].sum() == 5 and chosen[10:].sum() == 3
    assert not np.array_equal(chosen, split_halves(table, 0.5, seed=2))


CTCF, GATA1 = "MA0139.2", "MA0035.5"  # JASPAR 2024 CORE vertebrates


@pytest.fixture(scope="module")
def jaspar():
    return {motif.id: motif for motif in load_motifs("jaspar")}


def test_known_motifs_from_jaspar_and_meme(jaspar, tmp_path):
    ctcf = jaspar[CTCF]
    assert ctcf.name == "CTCF" and ctcf.pfm.shape == (15, 4)
    np.testing.assert_allclose(ctcf.pfm.sum(axis=1), 1.0)
    write_meme({"m1": ctcf.pfm}, tmp_path / "m.meme")
    (loaded,) = load_motifs(str(tmp_path / "m.meme"))
    assert loaded.id == "m1" and loaded.name == consensus(ctcf.pfm)
    np.testing.assert_allclose(loaded.pfm, ctcf.pfm, atol=1e-6)
    with pytest.raises(InputError, match="JASPAR1999"):
        load_motifs("jaspar", release="JASPAR1999")
    with pytest.raises(InputError, match="missing.meme: no such MEME file"):
        load_motifs(str(tmp_path / "missing.meme"))


def test_scan_finds_instances_on_both_strands(jaspar):
    ctcf = jaspar[CTCF]
    site = consensus(ctcf.pfm)
    background = "AT" * 20
    sequences = [background[:10] + site + background[:15], background[:5] + reverse_complement(site) + "A", "ACGT"]
    hits = scan_motifs([ctcf], sequences, threshold=1e-5)
    assert hits[["sequence", "motif_id", "motif_name", "start", "end", "strand"]].values.tolist() == [
        [0, ctcf.id, "CTCF", 10, 25, "+"],
        [1, ctcf.id, "CTCF", 5, 20, "-"],
    ]
    assert (hits["p_value"] < 1e-5).all()


def test_tomtom_names_the_planted_matrix_and_its_orientation(jaspar):
    targets = list(jaspar.values())
    gata = jaspar[GATA1].pfm
    table = match_motifs({"ctcf": jaspar[CTCF].pfm, "gata_rc": gata[::-1, ::-1]}, targets)
    rows = table.set_index("motif")
    assert rows.loc["ctcf", "match_name"] == "CTCF" and rows.loc["ctcf", "match_q"] < 1e-6
    assert rows.loc["gata_rc", "match_name"] == "GATA1" and rows.loc["gata_rc", "match_orientation"] == "-"
