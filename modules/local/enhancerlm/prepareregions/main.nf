process ENHANCERLM_PREPAREREGIONS {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(bed), val(test_chroms)
    tuple val(meta2), path(fasta), path(fai), path(gzi)
    path(blacklist)

    output:
    tuple val(meta), path("${prefix}.dataset.tsv")     , emit: dataset
    tuple val(meta), path("${prefix}.prepare.json")    , emit: report
    tuple val(meta), path("${prefix}.prepare_mqc.html"), emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args       = task.ext.args ?: ''
    prefix         = task.ext.prefix ?: "${meta.id}"
    def blacklist_ = blacklist ? "--blacklist ${blacklist}" : ''
    """
    enhancerlm prepare \\
        --bed ${bed} \\
        --genome ${fasta} \\
        ${blacklist_} \\
        --test-chroms ${test_chroms} \\
        --name ${prefix} \\
        --outdir . \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'id\\tsequence\\tlabel\\tsplit\\tfold\\tclass\\tsource\\tgroup\\tleak\\n' > ${prefix}.dataset.tsv
    echo '{"dataset": "${meta.id}"}' > ${prefix}.prepare.json
    touch ${prefix}.prepare_mqc.html
    """
}
