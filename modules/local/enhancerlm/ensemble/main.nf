process ENHANCERLM_ENSEMBLE {
    tag "$meta.id"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(members, arity: '2..*', stageAs: 'members/*'), path(dataset)

    output:
    tuple val(meta), path("${prefix}")                , emit: model
    tuple val(meta), path("${prefix}/enhancerlm.json"), emit: card
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args    = task.ext.args ?: ''
    prefix      = task.ext.prefix ?: "${meta.id}"
    def models  = members.collect { member -> "--model ${member}" }.join(' ')
    """
    enhancerlm ensemble \\
        ${models} \\
        --dataset ${dataset} \\
        --outdir ${prefix} \\
        --model-id ${prefix} \\
        --device cpu \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}/members
    echo '{"model_id": "${prefix}", "type": "ensemble"}' > ${prefix}/enhancerlm.json
    """
}
