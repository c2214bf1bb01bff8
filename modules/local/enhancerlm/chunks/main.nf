process ENHANCERLM_CHUNKS {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] ?
        'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' :
        'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(genome)

    output:
    tuple val(meta), path("${prefix}.chunks.bed"), emit: bed
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    script:
    def args = task.ext.args ?: ''
    prefix   = task.ext.prefix ?: "${meta.id}"
    """
    enhancerlm chunks \\
        --genome ${genome} \\
        --output ${prefix}.chunks.bed \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'chr1\\t0\\t1000\\tchr1:0-1000\\n' > ${prefix}.chunks.bed
    """
}
