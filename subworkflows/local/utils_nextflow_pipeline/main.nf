/*
 * Generic Nextflow chores at the start of a run: --version, the parameters written to pipeline_info, and a
 * warning when conda's channels are set up so that packages may resolve differently. The interface is nf-core's
 * utils_nextflow_pipeline subworkflow (nf-core/modules, 2026-08); this pipeline's own copy, not
 * installed by nf-core tools.
 */

workflow UTILS_NEXTFLOW_PIPELINE {

    take:
    print_version        // boolean: print the version and exit
    dump_parameters      // boolean: write the parameters to <outdir>/pipeline_info/params_<time>.json
    outdir               // string: the output directory
    check_conda_channels // boolean: check the conda channel set-up

    main:
    if (print_version) {
        log.info("${workflow.manifest.name} ${getWorkflowVersion()}")
        System.exit(0)
    }
    if (dump_parameters && outdir) {
        dumpParametersToJSON(outdir)
    }
    if (check_conda_channels) {
        checkCondaChannels()
    }

    emit:
    dummy_emit = true
}

// The pipeline version, with the commit when Nextflow knows it (v0.1.0-g1a2b3c4)
def getWorkflowVersion() {
    def version = workflow.manifest.version ? "v${workflow.manifest.version}".replace('vv', 'v') : ''
    return workflow.commitId ? "${version}-g${workflow.commitId.substring(0, 7)}" : version
}

// The run's parameters as JSON in pipeline_info, named by the start time (written locally, then copied, so an
// object-store --outdir works too)
def dumpParametersToJSON(outdir) {
    def timestamp = new java.util.Date().format('yyyy-MM-dd_HH-mm-ss')
    def temp_file = new File(workflow.launchDir.toString(), ".params_${timestamp}.json")
    temp_file.text = groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(params))
    nextflow.extension.FilesEx.copyTo(temp_file.toPath(), "${outdir}/pipeline_info/params_${timestamp}.json")
    temp_file.delete()
}

// Warn unless conda-forge comes before bioconda, the order bioconda documents
def checkCondaChannels() {
    def channels = []
    try {
        def process = "conda config --show channels".execute()
        process.waitFor()
        channels = new org.yaml.snakeyaml.Yaml().load(process.text)?.channels ?: []
    }
    catch (Exception e) {
        log.warn("Could not read the conda channels: ${e.message}")
        return
    }
    def required = ['conda-forge', 'bioconda']
    def positions = required.collect { name -> channels.indexOf(name) }
    if (positions.any { position -> position < 0 } || positions != positions.sort(false)) {
        log.warn("Conda channels are not set up as conda-forge, then bioconda (found: ${channels}); packages may resolve differently")
    }
}
