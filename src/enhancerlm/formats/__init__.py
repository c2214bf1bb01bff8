"""File formats in and out: FASTA, genomes, BED, VCF, tracks, MEME, the dataset table, MultiQC files."""
