process ENHANCERLM_PREDICT {
    tag "$meta.id"
    label 'process_low'
    label 'process_gpu'

    conda "${ task.accelerator ? "${moduleDir}/environment.gpu.yml" : "${moduleDir}/environment.yml" }"
    container "${ task.accelerator ? 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda13.0' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(model), val(chunk)
    tuple val(meta2), path(fasta), path(fai), path(gzi)
    path(regions)
    path(blacklist)

    output:
    tuple val(meta), path("${prefix}"), emit: scan
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch'), eval('enhancerlm versions --tool torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('cuda'), eval('enhancerlm versions --tool cuda'), topic: versions, emit: versions_cuda

    when:
    task.ext.when == null || task.ext.when

    script:
    def args       = task.ext.args ?: ''
    // the chunk's name as a file name: contig names may hold glob characters (hg38's HLA-A*01:01:01:01)
    prefix         = task.ext.prefix ?: "${meta.id}.${chunk.replaceAll('[^A-Za-z0-9._]', '_')}"
    def device     = task.accelerator ? 'cuda' : 'cpu'
    def regions_   = regions ? "--regions ${regions}" : ''
    def blacklist_ = blacklist ? "--blacklist ${blacklist}" : ''
    """
    enhancerlm predict \\
        --model ${model} \\
        --genome ${fasta} \\
        --fai ${fai} \\
        --gzi ${gzi} \\
        --chunk '${chunk}' \\
        ${regions_} \\
        ${blacklist_} \\
        --outdir ${prefix} \\
        --prefix ${meta.id} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}.${chunk.replaceAll('[^A-Za-z0-9._]', '_')}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/${meta.id}.windows.bedgraph ${prefix}/${meta.id}.score_counts.tsv ${prefix}/${meta.id}.calibration.tsv
    echo '{"model": {"model_id": "${meta.id}"}}' > ${prefix}/${meta.id}.predict.json
    """
}
