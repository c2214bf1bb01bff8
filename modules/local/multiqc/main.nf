process MULTIQC {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(multiqc_files, arity: "1..*", stageAs: "?/*"), path(multiqc_config, arity: "1..*", stageAs: "?/*"), path(multiqc_logo), path(replace_names), path(sample_names)

    output:
    tuple val(meta), path("*.html")  , emit: report
    tuple val(meta), path("*_data")  , emit: data
    tuple val(meta), path("*_plots") , emit: plots, optional: true
    // Not on the `versions` topic: this task's input is collected from that topic, which would then never
    // close (nf-core/modules removed the topic from its MULTIQC for the same reason).
    tuple val("${task.process}"), val('multiqc'), eval('multiqc --version | sed "s/.* //g"'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args     = task.ext.args ?: ''
    def prefix   = task.ext.prefix ? "--filename ${task.ext.prefix}.html" : ''
    def configs  = multiqc_config.collect { config -> "--config ${config}" }.join(' ')
    def logo     = multiqc_logo ? "--cl-config 'custom_logo: \"${multiqc_logo}\"'" : ''
    def replace  = replace_names ? "--replace-names ${replace_names}" : ''
    def samples  = sample_names ? "--sample-names ${sample_names}" : ''
    """
    multiqc \\
        --force \\
        ${prefix} \\
        ${configs} \\
        ${logo} \\
        ${replace} \\
        ${samples} \\
        ${args} \\
        .
    """

    stub:
    """
    mkdir multiqc_data multiqc_plots
    touch multiqc_data/.stub multiqc_plots/.stub multiqc_report.html
    """
}
