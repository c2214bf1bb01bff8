process MULTIQC {
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] ?
        'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' :
        'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    path multiqc_files, stageAs: '?/*'
    path multiqc_config

    output:
    path 'multiqc_report.html', emit: report
    path 'multiqc_data'       , emit: data
    path 'multiqc_plots'      , emit: plots, optional: true
    tuple val("${task.process}"), val('multiqc'), eval('multiqc --version | sed "s/.* //"'), topic: versions, emit: versions_multiqc

    script:
    def args   = task.ext.args ?: ''
    def config = multiqc_config ? "--config ${multiqc_config}" : ''
    """
    multiqc \\
        --force \\
        ${config} \\
        ${args} \\
        .
    """

    stub:
    """
    mkdir multiqc_data multiqc_plots
    touch multiqc_report.html multiqc_data/multiqc_data.json
    """
}
