"""The science, on arrays and records: dataset QC, genome negatives, scans, calibration, variant effects,
attribution, motifs and benchmark statistics. Imports models, formats and core; never training."""
