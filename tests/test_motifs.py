"""Motif discovery stages that need no model, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from enhancerlm.data import reverse_complement
from enhancerlm.errors import InputError
from enhancerlm.motifs import (
    alignment_score,
    bh_qvalues,
    candidate_regions,
    hypergeometric_enrichment,
    merge_candidates,
    nucleotide_scores,
    offsets_to_nucleotide_scores,
    pfm_from_instances,
    read_meme,
    write_meme,
)


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
    for line in ("MEME version 4", "ALPHABET= ACGT", "strands: + -", "Background letter frequencies",
                 "A 0.250000 C 0.250000 G 0.250000 T 0.250000",
                 "letter-probability matrix: alength= 4 w= 6 nsites= 12 E= 0",
                 "letter-probability matrix: alength= 4 w= 9 nsites= 20 E= 0"):
        assert line in text.splitlines()
    assert any(line.startswith("MOTIF m1 ") for line in text.splitlines())
    back = read_meme(path)
    assert list(back) == ["m1", "m2"]
    for name, pfm in motifs.items():
        np.testing.assert_array_equal(back[name], [[float(f"{v:.6f}") for v in row] for row in pfm])
        np.testing.assert_allclose(back[name], pfm, atol=5e-7)


@pytest.mark.parametrize(("text", "line"), [
    ("not meme\n", 1),
    ("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2\n0.1 0.2 0.3 0.4\n0.1 x 0.3 0.6\n", 6),
    ("MEME version 4\nMOTIF m1\nletter-probability matrix: alength= 4\n0.1 0.2 0.3 0.4\n", 3),
    ("MEME version 4\nMOTIF m1\nletter-probability matrix: alength= 4 w= 3\n0.1 0.2 0.3 0.4\n", 5),
])
def test_malformed_meme_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.meme: line {line}:"):
        read_meme(path)


def test_write_meme_rejects_bad_matrix(tmp_path):
    with pytest.raises(InputError, match="'m1'"):
        write_meme({"m1": np.ones((3, 4))}, tmp_path / "x.meme")
    assert not (tmp_path / "x.meme").exists()
