"""One module per CLI verb: open the inputs, run training or analysis, write the outputs, return the report."""
