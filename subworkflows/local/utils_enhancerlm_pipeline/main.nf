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
    input             // string: path of the samplesheet CSV, or null
    input_regions     // string: path of the regions samplesheet CSV, or null
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

    if (!input && !input_regions) {
        error("--input or --input_regions is required: a samplesheet of FASTA files (dataset,fasta,label,split) or of regions on --genome (dataset,bed,test_chroms)")
    }
    def rows    = input ? samplesheetToList(input, "${projectDir}/assets/schema_input.json") : []
    def regions = input_regions ? samplesheetToList(input_regions, "${projectDir}/assets/schema_regions.json") : []
    def twice   = regions.collect { row -> row[0].id }.intersect(rows.collect { row -> row[0].id }.unique())
    if (twice) {
        error("${input_regions}: dataset ${twice[0]} is named twice in the run (also in ${input})")
    }

    // Relative FASTA and BED paths are resolved against their samplesheet's directory, as `enhancerlm prepare` does.
    // channel: [ val(meta), path(fasta), val(label), val(split) ]
    ch_samplesheet = channel
        .fromList(rows)
        .map { meta, fasta, label, split -> [ meta, sheetFile(input, meta, fasta, 'FASTA'), label, split ] }
    // channel: [ val(meta), path(bed), val(test_chroms) ], test_chroms comma-separated as `enhancerlm prepare` takes them
    ch_regions = channel
        .fromList(regions)
        .map { meta, bed, test_chroms -> [ meta, sheetFile(input_regions, meta, bed, 'BED'), test_chroms.tokenize(';').join(',') ] }

    emit:
    samplesheet = ch_samplesheet // channel: [ val(meta), path(fasta), val(label), val(split) ]
    regions     = ch_regions     // channel: [ val(meta), path(bed), val(test_chroms) ]
}

// A file a samplesheet names: a URL or absolute path as given, a relative path under the samplesheet's directory
def sheetFile(sheet, meta, name, kind) {
    def path = name.contains('://') || name.startsWith('/') ? file(name) : file(sheet).parent.resolve(name)
    if (!path.exists()) {
        error("${sheet}: dataset ${meta.id}: ${kind} file not found: ${path}")
    }
    return path
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
