process ENHANCERLM_GENOMEINDEX {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(fasta, stageAs: 'input/*')

    output:
    tuple val(meta), path("${prefix}.fa.gz"), path("${prefix}.fa.gz.fai"), path("${prefix}.fa.gz.gzi"), emit: index
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix   = task.ext.prefix ?: "${meta.id}"
    """
    enhancerlm index-genome \\
        --genome ${fasta} \\
        --output ${prefix}.fa.gz \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo "" | gzip > ${prefix}.fa.gz
    touch ${prefix}.fa.gz.fai ${prefix}.fa.gz.gzi
    """
}
