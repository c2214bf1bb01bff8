"""The DNA alphabet, once: byte codes, reverse complements of strings and of uint8 window arrays, canonical
sequences, GC content, one-hot encoding, consensus letters and dinucleotide-preserving shuffles."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


BASE_CODE = np.full(256, 4, dtype=np.uint8)  # ASCII byte -> 0..3 for A C G T (either case), 4 for anything else
BASE_CODE[[ord(b) for b in "ACGT"]] = BASE_CODE[[ord(b) for b in "acgt"]] = np.arange(4)


_INVALID = re.compile(r"[^ACGTNacgtn]")


def invalid_characters(seq: str) -> str:
    """Why `seq` is not plain DNA (anything outside ACGTN, any case), or "" if it is."""
    hits = list(_INVALID.finditer(seq))
    if not hits:
        return ""
    chars = list(dict.fromkeys(hit.group() for hit in hits))
    noun = "character" if len(chars) == 1 else "characters"
    listed = ", ".join(repr(c) for c in chars)
    return f"invalid {noun} {listed} (first at position {hits[0].start() + 1})"


def reverse_complement(seq: str) -> str:
    """Reverse complement of an ACGTN sequence (any case in, upper case out)."""
    upper = seq.upper()
    if reason := invalid_characters(upper):
        raise ValueError(f"cannot reverse-complement: {reason}")
    return upper.translate(_COMPLEMENT)[::-1]


def canonical_sequence(seq: str) -> str:
    """The lexicographically smaller of a sequence and its reverse complement (strand-neutral key)."""
    upper = seq.upper()
    return min(upper, reverse_complement(upper))


def gc_fraction(seq: str) -> float:
    """GC fraction over the A/C/G/T bases (N ignored); 0.0 when there are none."""
    upper = seq.upper()
    gc = upper.count("G") + upper.count("C")
    acgt = gc + upper.count("A") + upper.count("T")
    return gc / acgt if acgt else 0.0


def sequence_group(seq: str) -> str:
    """Stable id shared by identical and reverse-complement-identical sequences."""
    return hashlib.sha1(canonical_sequence(seq).encode()).hexdigest()[:12]


_ACGT = np.zeros(256, dtype=bool)
_ACGT[list(b"ACGT")] = True


AS_N = np.where(_ACGT, np.arange(256), ord("N")).astype(np.uint8)  # anything but ACGT reads as N


_COMPLEMENT_CODES = np.full(256, ord("N"), dtype=np.uint8)
_COMPLEMENT_CODES[list(b"ACGT")] = list(b"TGCA")


def reverse_complement_windows(windows: np.ndarray) -> np.ndarray:
    """Reverse complements of ASCII windows (rows of an (n, length) uint8 array); non-ACGT becomes N."""
    return _COMPLEMENT_CODES[windows[:, ::-1]]


def with_reverse_strands(windows: np.ndarray, both_strands: bool) -> np.ndarray:
    """The windows, followed by their reverse complements when both strands are scored."""
    return np.concatenate([windows, reverse_complement_windows(windows)]) if both_strands else windows


def strand_average(probabilities: np.ndarray, both_strands: bool) -> np.ndarray:
    """Per window, the mean of its two strands' probabilities (laid out as `with_reverse_strands` stacks them)."""
    return probabilities.reshape(2, -1).mean(0) if both_strands else probabilities


def dinucleotide_shuffle(sequence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random sequence with exactly the dinucleotide counts (and first and last letters) of `sequence`.

    Altschul and Erickson's Eulerian method: the sequence is a walk through the graph of its
    letters; choose each letter's last exit edge at random until those edges form a tree into the
    final letter, shuffle every letter's other exits, then walk the graph again.
    """
    sequence = np.asarray(sequence, dtype=np.uint8)
    if len(sequence) < 3:
        return sequence.copy()
    last = int(sequence[-1])
    exits = {int(letter): sequence[1:][sequence[:-1] == letter] for letter in np.unique(sequence[:-1])}
    while True:
        chosen = {letter: int(rng.integers(len(targets))) for letter, targets in exits.items() if letter != last}
        if _is_tree_into(last, {letter: int(exits[letter][i]) for letter, i in chosen.items()}):
            break
    order = {}
    for letter, targets in exits.items():
        if letter in chosen:
            others = rng.permutation(np.delete(targets, chosen[letter]))
            order[letter] = np.append(others, targets[chosen[letter]]).tolist()
        else:
            order[letter] = rng.permutation(targets).tolist()
    used = dict.fromkeys(order, 0)
    walk = [int(sequence[0])]
    for _ in range(len(sequence) - 1):
        current = walk[-1]
        walk.append(order[current][used[current]])
        used[current] += 1
    return np.asarray(walk, dtype=np.uint8)


def _is_tree_into(root: int, parent: dict[int, int]) -> bool:
    """Whether following `parent` from every letter reaches `root` (no cycle)."""
    for letter in parent:
        for _ in range(len(parent) + 1):
            if letter == root:
                break
            letter = parent[letter]
        else:
            return False
    return True


ALPHABET = "ACGT"


def one_hot(sequences: Sequence[str], length: int | None = None) -> np.ndarray:
    """(n, 4, length) float32 one-hot A C G T, zero columns for other letters and for padding on the right."""
    width = max((len(s) for s in sequences), default=0) if length is None else length
    codes = np.full((len(sequences), width), 4, dtype=np.uint8)
    for row, sequence in enumerate(sequences):
        raw = np.frombuffer(sequence.encode("ascii", "replace")[:width], dtype=np.uint8)
        codes[row, : len(raw)] = BASE_CODE[raw]
    return np.eye(5, 4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def consensus(pfm: np.ndarray) -> str:
    """The most frequent letter at each position (ties: A before C before G before T)."""
    return "".join(ALPHABET[i] for i in np.argmax(np.asarray(pfm), axis=1))
