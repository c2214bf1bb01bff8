"""Producing models: the optimiser loop, fine-tuning, folds, the k-mer baseline, ensembles, pre-training."""
