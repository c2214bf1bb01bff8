/*
 * Before any task: --version, --help, parameter validation and the run summary, the samplesheet; after the run:
 * the completion summary. The shape of the nf-core template's utils_nfcore_<pipeline>_pipeline subworkflow.
 */

include { UTILS_NFSCHEMA_PLUGIN   } from '../../nf-core/utils_nfschema_plugin'
include { UTILS_NEXTFLOW_PIPELINE } from '../../nf-core/utils_nextflow_pipeline'
include { UTILS_NFCORE_PIPELINE   } from '../../nf-core/utils_nfcore_pipeline'
include { completionSummary       } from '../../nf-core/utils_nfcore_pipeline'
include { samplesheetToList       } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {

    take:
    version           // boolean: print the version and exit
    validate_params   // boolean: validate the parameters against nextflow_schema.json
    monochrome_logs   // boolean: no colours in the log
    nextflow_cli_args // list: positional arguments of `nextflow run`
    outdir            // string: the output directory
    input             // string: path of the samplesheet CSV
    help              // boolean or string: show the help
    help_full         // boolean: show the full help
    show_hidden       // boolean: show hidden parameters in the help

    main:
    UTILS_NEXTFLOW_PIPELINE ( version, true, outdir, workflow.profile.tokenize(',').intersect(['conda', 'mamba']).size() >= 1 )

    def command = "nextflow run ${workflow.manifest.name} -profile <docker/singularity/.../institute> --input samplesheet.csv --outdir <OUTDIR>"
    UTILS_NFSCHEMA_PLUGIN ( workflow, validate_params, null, help, help_full, show_hidden, '', citationText(), command, true )

    UTILS_NFCORE_PIPELINE ( nextflow_cli_args )

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

workflow PIPELINE_COMPLETION {

    take:
    outdir          // string: the output directory
    monochrome_logs // boolean: no colours in the log
    multiqc_report  // channel: [ val(meta), path(multiqc_report.html) ]

    main:
    def multiqc_reports = multiqc_report.toList()

    workflow.onComplete {
        completionSummary(monochrome_logs)
        if (workflow.success && multiqc_reports.getVal()) {
            log.info "Report: ${outdir}/multiqc/multiqc_report.html"
        }
    }

    workflow.onError {
        log.error "Pipeline failed: see the error above and the task's .command.err in its work directory"
    }
}

// The parameters typed as nextflow_schema.json declares them. Under Nextflow's strict syntax parser (the default
// since 26.04) command-line values stay strings (`--epochs 10` is "10", `--cv false` is "false", which Groovy
// counts as true), and nf-schema casts them for validation only; every use of a parameter in the workflows goes
// through this map.
def typedParams(Map values, String schema_path) {
    def types = [:]
    new groovy.json.JsonSlurper().parse(file(schema_path).toFile())['$defs'].each { _group_name, group ->
        group.properties.each { name, spec -> types[name] = spec.type }
    }
    return values.collectEntries { name, value -> [ (name): castParam(value, types[name]) ] }
}

// One value as its schema type: booleans and numbers from their spelling; anything else as given (validation
// has already rejected what does not parse)
def castParam(value, type) {
    if (!(value instanceof CharSequence)) {
        return type == 'string' && value instanceof Number ? value.toString() : value
    }
    def text = value.toString().trim()
    if (type == 'boolean' && text.toLowerCase() in ['true', 'false']) {
        return text.toLowerCase() == 'true'
    }
    if (type == 'integer' && text.isInteger()) {
        return text.toInteger()
    }
    if (type == 'number' && text.isNumber()) {
        return text.toBigDecimal()
    }
    return value
}

// The methods and tools to cite, after the run summary
def citationText() {
    return [
        "If you use ${workflow.manifest.name} for your analysis please cite:",
        "* The pipeline: ${workflow.manifest.homePage}",
        "* The methods it reimplements and the software it uses: ${projectDir}/CITATIONS.md",
    ].join("\n")
}
