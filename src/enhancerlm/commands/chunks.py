"""`enhancerlm chunks`: a genome cut into chunks (a BED of CONTIG:START-END names) for scans in parallel."""

from __future__ import annotations

from pathlib import Path

from enhancerlm.analysis.scan import genome_chunks
from enhancerlm.formats.files import write_text
from enhancerlm.formats.genome import genome_sizes


def write_chunks(
    genome: str | Path | None,
    output: str | Path,
    *,
    size: int,
    fai: str | Path | None = None,
    include: list[str] | None = None,
    exclude: str | None = None,
) -> Path:
    """Write the chunks BED of a genome (see `genome_chunks`); the scatter list for `predict --chunk`."""
    table = genome_chunks(genome_sizes(genome, fai), size, include, exclude)
    return write_text(output, table.to_csv(sep="\t", header=False, index=False))
