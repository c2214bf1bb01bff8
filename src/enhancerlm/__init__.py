"""enhancerlm: find enhancers in DNA with genomic language models."""

__version__ = "0.1.0"
