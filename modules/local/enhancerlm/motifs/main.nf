process ENHANCERLM_MOTIFS {
    tag "$meta.id"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "${ task.accelerator ?
        (workflow.containerEngine in ['singularity', 'apptainer'] ? 'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda12.8-sif' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda12.8') :
        (workflow.containerEngine in ['singularity', 'apptainer'] ? 'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0') }"

    input:
    tuple val(meta), path(model), path(dataset)

    output:
    tuple val(meta), path("${prefix}.motifs.meme")       , emit: meme
    tuple val(meta), path("${prefix}.motifs.tsv")        , emit: tsv
    tuple val(meta), path("${prefix}.candidates.tsv")    , emit: candidates
    tuple val(meta), path("${prefix}.motifs.json")       , emit: json
    tuple val(meta), path("${prefix}.logos")             , emit: logos
    tuple val(meta), path("${prefix}.scores.bedGraph.gz"), emit: scores
    tuple val(meta), path("${prefix}.*_mqc.*")           , emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch')     , eval('enhancerlm versions --tool torch')     , topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('cuda')      , eval('enhancerlm versions --tool cuda')      , topic: versions, emit: versions_cuda

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    enhancerlm motifs \\
        --model ${model} \\
        --dataset ${dataset} \\
        --outdir . \\
        --prefix ${prefix} \\
        --device ${device} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}.logos
    touch ${prefix}.motifs.meme ${prefix}.motifs.tsv ${prefix}.candidates.tsv ${prefix}.motifs_mqc.html ${prefix}.motif_hits_mqc.tsv
    echo '{"model_id": "${meta.id}"}' > ${prefix}.motifs.json
    echo -n | gzip > ${prefix}.scores.bedGraph.gz
    """
}
