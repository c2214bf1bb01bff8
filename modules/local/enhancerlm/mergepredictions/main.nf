process ENHANCERLM_MERGEPREDICTIONS {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(scans, arity: '1..*', stageAs: 'chunks/*')
    tuple val(meta2), path(fai)

    output:
    tuple val(meta), path("${prefix}.windows.bedgraph"), emit: bedgraph
    tuple val(meta), path("${prefix}.windows.bw")      , emit: bigwig
    tuple val(meta), path("${prefix}.enhancers.bed")   , emit: bed
    tuple val(meta), path("${prefix}.enhancers.bb")    , emit: bigbed, optional: true
    tuple val(meta), path("${prefix}.predict.json")    , emit: json
    tuple val(meta), path("${prefix}.*_mqc.*")         , emit: multiqc
    tuple val(meta), path("${prefix}.calibration.tsv") , emit: calibration, optional: true
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def inputs = scans.collect { scan -> "--input ${scan}" }.join(' ')
    """
    enhancerlm merge-predictions \\
        ${inputs} \\
        --fai ${fai} \\
        --outdir . \\
        --prefix ${prefix} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.windows.bedgraph ${prefix}.windows.bw ${prefix}.enhancers.bed ${prefix}.predict_mqc.tsv
    echo '{"model": {"model_id": "${meta.id}"}}' > ${prefix}.predict.json
    """
}
