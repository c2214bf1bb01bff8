process ENHANCERLM_TRAIN {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'

    conda "${ task.accelerator ? "${moduleDir}/environment.gpu.yml" : "${moduleDir}/environment.yml" }"
    container "${ task.accelerator ? 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda13.0' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(dataset)
    tuple val(meta2), path(base_model, stageAs: 'base_model/*')

    output:
    tuple val(meta), path("${prefix}")                , emit: model
    tuple val(meta), path("${prefix}/enhancerlm.json"), emit: card
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch'), eval('enhancerlm versions --tool torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('transformers'), eval('enhancerlm versions --tool transformers'), topic: versions, emit: versions_transformers
    tuple val("${task.process}"), val('cuda'), eval('enhancerlm versions --tool cuda'), topic: versions, emit: versions_cuda

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def model  = base_model ?: meta2.id
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    enhancerlm train \\
        --dataset ${dataset} \\
        --model ${model} \\
        --outdir ${prefix} \\
        --model-id ${prefix} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    echo '{"model_id": "${prefix}"}' > ${prefix}/enhancerlm.json
    touch ${prefix}/config.json ${prefix}/model.safetensors ${prefix}/vocab.txt
    """
}
