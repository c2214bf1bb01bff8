process ENHANCERLM_MERGEPREDICTIONS {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] ?
        'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' :
        'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(scans, stageAs: 'chunks/*')
    path(genome)

    output:
    tuple val(meta), path("${prefix}.windows.bedgraph"), emit: bedgraph
    tuple val(meta), path("${prefix}.windows.bw")      , emit: bigwig
    tuple val(meta), path("${prefix}.enhancers.bed")   , emit: bed
    tuple val(meta), path("${prefix}.enhancers.bb")    , emit: bigbed, optional: true
    tuple val(meta), path("${prefix}.predict.json")    , emit: json
    tuple val(meta), path("${prefix}.*_mqc.*")         , emit: multiqc
    tuple val(meta), path("${prefix}.calibration.tsv") , emit: calibration, optional: true
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def inputs = scans.join(' --input ')
    """
    enhancerlm merge-predictions \\
        --input ${inputs} \\
        --genome ${genome} \\
        --outdir . \\
        --prefix ${prefix} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.windows.bedgraph ${prefix}.windows.bw ${prefix}.enhancers.bed ${prefix}.predict_mqc.tsv
    echo '{"model": {"model_id": "${meta.id}"}}' > ${prefix}.predict.json
    """
}
