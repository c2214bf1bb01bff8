process ENHANCERLM_CHUNKS {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(fai)

    output:
    tuple val(meta), path("${prefix}.chunks.bed"), emit: bed
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix   = task.ext.prefix ?: "${meta.id}"
    """
    enhancerlm chunks \\
        --fai ${fai} \\
        --output ${prefix}.chunks.bed \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'chr1\\t0\\t1000\\tchr1:0-1000\\n' > ${prefix}.chunks.bed
    """
}
