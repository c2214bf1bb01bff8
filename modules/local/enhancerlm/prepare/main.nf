process ENHANCERLM_PREPARE {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] ?
        'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' :
        'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(samplesheet), path(fastas, stageAs: 'fasta/*')

    output:
    tuple val(meta), path("${meta.id}.dataset.tsv") , emit: dataset
    tuple val(meta), path("${meta.id}.prepare.json"), emit: report
    tuple val(meta), path("${meta.id}.prepare_mqc.html"), emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    script:
    def args = task.ext.args ?: ''
    """
    enhancerlm prepare \\
        --input ${samplesheet} \\
        --outdir . \\
        ${args}
    """

    stub:
    """
    printf 'id\\tsequence\\tlabel\\tsplit\\tfold\\tclass\\tsource\\tgroup\\tleak\\n' > ${meta.id}.dataset.tsv
    echo '{"dataset": "${meta.id}"}' > ${meta.id}.prepare.json
    touch ${meta.id}.prepare_mqc.html
    """
}
