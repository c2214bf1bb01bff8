#!/usr/bin/env nextflow
/*
 * enhancerlm: find enhancers in DNA with genomic language models.
 * https://github.com/enhancerlm/enhancerlm
 */

include { ENHANCERLM              } from './workflows/enhancerlm'
include { PIPELINE_INITIALISATION } from './subworkflows/local/utils_enhancerlm_pipeline'

workflow {
    main:
    PIPELINE_INITIALISATION ( params.input )

    ENHANCERLM ( PIPELINE_INITIALISATION.out.samplesheet )
}
