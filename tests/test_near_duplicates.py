"""analysis.near_duplicates: near copies by substitution, by a shifted overlapping window and on the other strand
are found at the default rule (90 % identity over half the shorter record); unrelated records are not."""

from __future__ import annotations

import numpy as np
from helpers import random_dna

from enhancerlm.analysis.near_duplicates import (
    NearDuplicate,
    NearDuplicateRule,
    find_near_duplicates,
    ungapped_identity,
)
from enhancerlm.core.dna import reverse_complement

RNG = np.random.default_rng(0)
BASE = random_dna(RNG, 400)


def substituted(sequence: str, n: int, rng: np.random.Generator) -> str:
    bases = list(sequence)
    for i in rng.choice(len(bases), n, replace=False):
        bases[i] = "ACGT"[("ACGT".index(bases[i]) + 1 + int(rng.integers(3))) % 4]
    return "".join(bases)


def test_near_copies_are_found_on_both_strands_and_unrelated_records_are_not():
    train = [BASE[:200], random_dna(RNG, 200), random_dna(RNG, 200)]
    near = substituted(BASE[:200], 8, RNG)
    test = [near, BASE[80:280], reverse_complement(near), reverse_complement(BASE[80:280]), random_dna(RNG, 200)]
    found = {(m.query, m.target, m.strand): m for m in find_near_duplicates(test, train)}
    assert set(found) == {(0, 0, "+"), (1, 0, "+"), (2, 0, "-"), (3, 0, "-")}
    assert found[(0, 0, "+")].identity == 0.96 and found[(0, 0, "+")].coverage == 1.0
    assert found[(1, 0, "+")].identity == 1.0 and found[(1, 0, "+")].coverage == 0.6


def test_the_rule_sets_both_thresholds():
    shifted = [BASE[130:330]]  # overlaps 35 % of its neighbour
    assert not find_near_duplicates(shifted, [BASE[:200]])
    assert find_near_duplicates(shifted, [BASE[:200]], NearDuplicateRule(coverage=0.3))
    near = substituted(BASE[:200], 30, RNG)  # 85 % identical
    assert not find_near_duplicates([near], [BASE[:200]])


def test_within_one_set_each_pair_is_reported_once():
    records = [BASE[:200], random_dna(RNG, 200), reverse_complement(BASE[50:250]), random_dna(RNG, 150)]
    found = find_near_duplicates(records)
    assert [(m.query, m.target, m.strand) for m in found] == [(0, 2, "-")]


def test_random_records_share_no_near_copy():
    records = [random_dna(RNG, 200) for _ in range(2_000)]
    assert find_near_duplicates(records) == []


def test_short_and_n_records_are_compared_without_error():
    found = find_near_duplicates(["ACGT", "N" * 50, BASE[:20]], [BASE[:20], "N" * 50])
    assert found == [NearDuplicate(2, 0, "+", 1.0, 1.0)]
    assert ungapped_identity("NNNN", "NNNN", 0) == (0.0, 1.0)
