"""Defaults that the library and the command line share, kept apart from the heavy modules so that the command
line can show them without importing torch, pandas or the JASPAR reader."""

from __future__ import annotations

DEFAULT_FDR = 0.05  # genome scans call windows at this empirical FDR against their shuffled copies
CALIBRATION_WINDOWS = 10_000  # windows in a scan's dinucleotide-shuffled calibration sample
DEFAULT_EXCLUDE = r"_alt|_random|^chrUn|decoy|_fix|hap"  # alternate haplotypes, unplaced and decoy contigs
EDGES = ("center", "shift")  # variant windows that run off a contig: not scored, or slid inside it
JASPAR_RELEASE = "JASPAR2024"
TAX_GROUP = "vertebrates"
STRAND_MODES = ("both", "forward")
MAX_TOKENS_PER_STEP = 8192  # training tokens per forward pass: 16 full 512-token windows (see training.window_budget)
