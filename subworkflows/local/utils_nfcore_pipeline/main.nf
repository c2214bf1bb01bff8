/*
 * Checks on how the pipeline was launched, and the completion summary. The interface is nf-core's
 * utils_nfcore_pipeline subworkflow (nf-core/modules, 2026-08): UTILS_NFCORE_PIPELINE, checkConfigProvided,
 * checkProfileProvided, completionSummary. This pipeline's own copy, not installed by nf-core tools.
 */

workflow UTILS_NFCORE_PIPELINE {

    take:
    nextflow_cli_args // list: the positional arguments of `nextflow run`

    main:
    valid_config = checkConfigProvided()
    checkProfileProvided(nextflow_cli_args)

    emit:
    valid_config
}

// Warn when neither a profile nor a config file was given: the tasks would then run without any software
def checkConfigProvided() {
    if (workflow.profile == 'standard' && workflow.configFiles.size() <= 1) {
        log.warn("No -profile or -c config given: tasks run with the tools on your PATH. Use -profile docker, " +
            "singularity, apptainer, podman or conda, or an institutional profile")
        return false
    }
    return true
}

// Fail on a profile list that ends with a comma; warn on positional arguments (usually a mistyped option). Nextflow
// 25.10's launcher turns `-stub` before another option into `-stub true` and the flag takes no value, so under
// -stub a lone 'true' is the engine's, not the user's (Launcher.normalizeArgs).
def checkProfileProvided(nextflow_cli_args) {
    if (workflow.profile.endsWith(',')) {
        error("The -profile option cannot end with a trailing comma: ${workflow.profile}")
    }
    def positional = workflow.stubRun && nextflow_cli_args && nextflow_cli_args[0] == 'true' ? nextflow_cli_args.drop(1) : nextflow_cli_args
    if (positional[0]) {
        log.warn("nextflow run was given a positional argument, '${positional[0]}', which is ignored; options take two dashes for pipeline parameters (--input) and one for Nextflow's own (-profile)")
    }
}

// One line at the end of a run: success, success with ignored errors, or failure
def completionSummary(monochrome_logs = true) {
    def green  = monochrome_logs ? '' : '\033[0;32m'
    def yellow = monochrome_logs ? '' : '\033[0;33m'
    def red    = monochrome_logs ? '' : '\033[0;31m'
    def reset  = monochrome_logs ? '' : '\033[0m'
    def name   = workflow.manifest.name
    if (workflow.success && workflow.stats.ignoredCount == 0) {
        log.info("-${green}[${name}]${reset} Pipeline completed successfully-")
    }
    else if (workflow.success) {
        log.info("-${yellow}[${name}]${reset} Pipeline completed successfully, but with errored process(es)-")
    }
    else {
        log.info("-${red}[${name}]${reset} Pipeline completed with errors-")
    }
}

// The parameter summary (nf-schema's paramsSummaryMap: group -> parameter -> value) as a MultiQC custom-content
// section, <manifest name with - for />-summary, which assets/multiqc_config.yml orders last; the run name is left out
def paramsSummaryMultiqc(summary_params) {
    def groups = summary_params.findAll { _group, values -> values }.collect { group, values ->
        // runName differs in every run: in the report's input it would make MultiQC re-run under -resume
        def rows = values.keySet().findAll { name -> name != 'runName' }.sort().collect { name ->
            "        <dt>${name}</dt><dd><samp>${values.get(name) ?: 'N/A'}</samp></dd>"
        }
        ([ "    <p><b>${group}</b></p>", "    <dl class=\"dl-horizontal\">" ] + rows + [ "    </dl>" ]).join('\n')
    }
    def header = [
        "id: '${workflow.manifest.name.replace('/', '-')}-summary'",
        "description: ' - the parameters of this run that differ from the defaults'",
        "section_name: '${workflow.manifest.name} workflow summary'",
        "section_href: '${workflow.manifest.homePage}'",
        "plot_type: 'html'",
        "data: |",
    ]
    def body = groups.join('\n').readLines().collect { line -> "    ${line}" }
    return (header + body).join('\n') + '\n'
}
