process ENHANCERLM_EVALUATE {
    tag "$meta.id"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(model), path(dataset), path(training_dataset)

    output:
    tuple val(meta), path("${prefix}.metrics.json")   , emit: metrics
    tuple val(meta), path("${prefix}.predictions.tsv"), emit: predictions
    tuple val(meta), path("${prefix}.cv.json"), path("${prefix}.cv_predictions.tsv"), emit: cv, optional: true
    tuple val(meta), path("${prefix}.*_mqc.*")        , emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch'), eval('enhancerlm versions --tool torch'), topic: versions, emit: versions_torch

    when:
    task.ext.when == null || task.ext.when

    script:
    def args      = task.ext.args ?: ''
    prefix        = task.ext.prefix ?: "${meta.id}"
    def training_ = training_dataset ? "--training-dataset ${training_dataset}" : ''
    """
    enhancerlm evaluate \\
        --model ${model} \\
        --dataset ${dataset} \\
        ${training_} \\
        --outdir . \\
        --prefix ${prefix} \\
        --device cpu \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo '{"model_id": "${meta.id}"}' > ${prefix}.metrics.json
    printf 'id\\tsplit\\tsource\\tclass\\tlabel\\tprobability\\tpredicted\\tleak\\n' > ${prefix}.predictions.tsv
    touch ${prefix}.general_stats_mqc.tsv ${prefix}.confusion_mqc.tsv
    """
}
