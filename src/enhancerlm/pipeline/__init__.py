"""The embedded runner of the Nextflow workflow: parameters, the step table, task command lines, the run."""
