/*
 * Before any task: --version, --help, parameter validation and the run summary, the samplesheet; after the run:
 * the completion summary. The shape of the nf-core template's utils_nfcore_<pipeline>_pipeline subworkflow.
 */

include { UTILS_NFSCHEMA_PLUGIN   } from '../utils_nfschema_plugin'
include { UTILS_NEXTFLOW_PIPELINE } from '../utils_nextflow_pipeline'
include { UTILS_NFCORE_PIPELINE   } from '../utils_nfcore_pipeline'
include { completionSummary       } from '../utils_nfcore_pipeline'
include { samplesheetToList       } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {

    take:
    version           // boolean: print the version and exit
    validate_params   // boolean: validate the parameters against nextflow_schema.json
    _monochrome_logs  // boolean: no colours in the log (nf-core's interface; the summary is nf-schema's)
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
    checkSoftwareOnPath()

    if (params.config_profile_name) {
        log.info "Config profile: ${params.config_profile_name}${params.config_profile_description ? ' - ' + params.config_profile_description : ''}"
    }

    if (!input && !input_regions) {
        error("--input or --input_regions is required: a samplesheet of FASTA files (dataset,fasta,label,split) or of regions on --genome (dataset,bed,test_chroms)")
    }
    // (local names differ from the emit names: an emit assigns into the workflow's binding, a `def` of the same
    // name would take the assignment and leave the output unset)
    def fasta_rows  = input ? samplesheetToList(input, "${projectDir}/assets/schema_input.json") : []
    def region_rows = input_regions ? samplesheetToList(input_regions, "${projectDir}/assets/schema_regions.json") : []
    def twice       = region_rows.collect { row -> row[0].id }.intersect(fasta_rows.collect { row -> row[0].id }.unique())
    if (twice) {
        error("${input_regions}: dataset ${twice[0]} is named twice in the run (also in ${input})")
    }

    // Relative FASTA and BED paths are resolved against their samplesheet's directory, as `enhancerlm prepare` does.
    // channel: [ val(meta), path(fasta), val(label), val(split) ]
    ch_samplesheet = channel
        .fromList(fasta_rows)
        .map { meta, fasta, label, split -> [ meta, sheetFile(input, meta, fasta, 'FASTA'), label, split ] }
    // channel: [ val(meta), path(bed), val(test_chroms) ], test_chroms comma-separated as `enhancerlm prepare` takes them
    ch_regions = channel
        .fromList(region_rows)
        .map { meta, bed, test_chroms -> [ meta, sheetFile(input_regions, meta, bed, 'BED'), test_chroms.tokenize(';').join(',') ] }

    emit:
    samplesheet = ch_samplesheet // channel: [ val(meta), path(fasta), val(label), val(split) ]
    regions     = ch_regions     // channel: [ val(meta), path(bed), val(test_chroms) ]
}

// Without a container engine or conda the tasks run what is on PATH: enhancerlm, multiqc and a python3 that imports
// enhancerlm (bin/chunk_scans_mqc.py), all from one activated environment (the tasks set PYTHONNOUSERSITE, so a
// `pip install --user` is not seen). Say so before any task fails for it.
def checkSoftwareOnPath() {
    if (workflow.containerEngine || workflow.profile.tokenize(',').intersect(['conda', 'mamba'])) {
        return
    }
    def path    = System.getenv('PATH') ?: ''
    def missing = ['enhancerlm', 'multiqc', 'python3'].findAll { tool ->
        !path.tokenize(':').any { dir -> new File(dir, tool).canExecute() }
    }
    if (!missing) {
        def probe = ['python3', '-c', 'import enhancerlm'].execute(["PATH=${path}", 'PYTHONNOUSERSITE=1'], null)
        if (probe.waitFor() != 0) {
            missing << 'a python3 that imports enhancerlm'
        }
    }
    if (missing) {
        log.warn("No container engine or conda profile is active, and the tasks will not find ${missing.join(', ')} on PATH: " +
            "add -profile docker, singularity or conda, or activate the environment enhancerlm is installed in")
    }
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

    // the handlers call script functions only: inside a named workflow's closure `workflow` is null by run end
    workflow.onComplete {
        completionSummary(monochrome_logs)
        reportSummary(outdir, multiqc_reports)
    }

    workflow.onError {
        log.error "Pipeline failed: see the error above and the task's .command.err in its work directory"
    }
}

// Where the MultiQC report is, once the run has succeeded and made one
def reportSummary(outdir, multiqc_reports) {
    if (workflow.success && multiqc_reports.getVal()) {
        log.info "Report: ${outdir}/multiqc/multiqc_report.html"
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
