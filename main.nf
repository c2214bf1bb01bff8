#!/usr/bin/env nextflow
/*
 * enhancerlm: find enhancers in DNA with genomic language models.
 * https://github.com/enhancerlm/enhancerlm
 */

include { ENHANCERLM              } from './workflows/enhancerlm'
include { PIPELINE_INITIALISATION } from './subworkflows/local/utils_enhancerlm_pipeline'
include { PIPELINE_COMPLETION     } from './subworkflows/local/utils_enhancerlm_pipeline'
include { typedParams             } from './subworkflows/local/utils_enhancerlm_pipeline'

workflow {

    main:
    // Validate the parameters, print the summary, read the samplesheet; the parameters come back typed as
    // nextflow_schema.json declares them (command-line values are strings under the strict syntax parser)
    PIPELINE_INITIALISATION (
        params.version,
        params.validate_params,
        params.monochrome_logs,
        args,
        params.outdir,
        params.input,
        params.input_regions,
        params.help,
        params.help_full,
        params.show_hidden
    )

    ENHANCERLM (
        PIPELINE_INITIALISATION.out.samplesheet,
        PIPELINE_INITIALISATION.out.regions,
        typedParams(params, "${projectDir}/nextflow_schema.json")
    )

    PIPELINE_COMPLETION (
        params.outdir,
        params.monochrome_logs,
        ENHANCERLM.out.multiqc_report
    )
}
