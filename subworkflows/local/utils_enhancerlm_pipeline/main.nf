/*
 * Parameter validation, the run summary and the samplesheet, before any task starts.
 */

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {
    take:
    input // string: path of the samplesheet CSV

    main:
    validateParameters()
    log.info paramsSummaryLog(workflow)
    if (params.config_profile_name) {
        log.info "Config profile: ${params.config_profile_name}${params.config_profile_description ? ' - ' + params.config_profile_description : ''}"
    }

    // Relative FASTA paths are resolved against the samplesheet's directory, as `enhancerlm prepare` does.
    def sheet_dir = file(input).parent
    // channel: [ val(meta), path(fasta), val(label), val(split) ]
    ch_samplesheet = channel
        .fromList(samplesheetToList(input, "${projectDir}/assets/schema_input.json"))
        .map { meta, fasta, label, split ->
            def path = fasta.contains('://') || fasta.startsWith('/') ? file(fasta) : sheet_dir.resolve(fasta)
            if (!path.exists()) {
                error("${input}: dataset ${meta.id}: FASTA file not found: ${path}")
            }
            [ meta, path, label, split ]
        }

    emit:
    samplesheet = ch_samplesheet // channel: [ val(meta), path(fasta), val(label), val(split) ]
}
