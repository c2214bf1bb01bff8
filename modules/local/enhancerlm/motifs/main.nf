process ENHANCERLM_MOTIFS {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'

    conda "${ task.accelerator ? "${moduleDir}/environment.gpu.yml" : "${moduleDir}/environment.yml" }"
    container "${ task.accelerator ? 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda13.0' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

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
    tuple val("${task.process}"), val('torch'), eval('enhancerlm versions --tool torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('cuda'), eval('enhancerlm versions --tool cuda'), topic: versions, emit: versions_cuda

    when:
    task.ext.when == null || task.ext.when

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
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}.logos
    touch ${prefix}.motifs.meme ${prefix}.motifs.tsv ${prefix}.candidates.tsv ${prefix}.motifs_mqc.html ${prefix}.motif_hits_mqc.tsv
    echo '{"model_id": "${meta.id}"}' > ${prefix}.motifs.json
    echo "" | gzip > ${prefix}.scores.bedGraph.gz
    """
}
