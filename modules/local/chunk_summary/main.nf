process CHUNK_SUMMARY {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(scans, arity: '1..*', stageAs: 'chunks/*')

    output:
    tuple val(meta), path("${prefix}.chunks_mqc.tsv"), emit: multiqc
    tuple val("${task.process}"), val('python'), eval('python3 --version | sed "s/Python //"'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    // chunk_scans_mqc.py is this pipeline's own script (bin/), so this module is not portable on its own
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def inputs = scans.collect { scan -> "--input ${scan}" }.join(' ')
    """
    chunk_scans_mqc.py \\
        ${inputs} \\
        --model-id ${meta.id} \\
        --output ${prefix}.chunks_mqc.tsv \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.chunks_mqc.tsv
    """
}
