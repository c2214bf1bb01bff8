"""Everything needed to score: tokenizers, the classifier, checkpoints, model cards and the `Scorer` seam."""
