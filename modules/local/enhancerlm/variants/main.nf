process ENHANCERLM_VARIANTS {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'

    conda "${ task.accelerator ? "${moduleDir}/environment.gpu.yml" : "${moduleDir}/environment.yml" }"
    container "${ task.accelerator ? 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda13.0' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0' }"

    input:
    tuple val(meta), path(model)
    tuple val(meta2), path(fasta), path(fai), path(gzi)
    tuple val(meta3), path(vcf)
    path(motifs)

    output:
    tuple val(meta), path("${prefix}.scored.vcf.gz")    , emit: vcf
    tuple val(meta), path("${prefix}.scored.vcf.gz.tbi"), emit: tbi, optional: true
    tuple val(meta), path("${prefix}.scores.tsv")       , emit: tsv
    tuple val(meta), path("${prefix}.variants.json")    , emit: json
    tuple val(meta), path("${prefix}.*_mqc.*")          , emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch'), eval('enhancerlm versions --tool torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('cuda'), eval('enhancerlm versions --tool cuda'), topic: versions, emit: versions_cuda

    when:
    task.ext.when == null || task.ext.when

    script:
    def args    = task.ext.args ?: ''
    prefix      = task.ext.prefix ?: "${meta.id}"
    def device  = task.accelerator ? 'cuda' : 'cpu'
    def motifs_ = motifs ? "--motifs ${motifs}" : ''
    """
    enhancerlm variants \\
        --model ${model} \\
        --genome ${fasta} \\
        --fai ${fai} \\
        --gzi ${gzi} \\
        --vcf ${vcf} \\
        ${motifs_} \\
        --outdir . \\
        --prefix ${prefix} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo "" | gzip > ${prefix}.scored.vcf.gz
    touch ${prefix}.scores.tsv ${prefix}.variants_mqc.tsv ${prefix}.variant_deltas_mqc.json ${prefix}.variant_top_mqc.html
    echo '{"prefix": "${prefix}"}' > ${prefix}.variants.json
    """
}
