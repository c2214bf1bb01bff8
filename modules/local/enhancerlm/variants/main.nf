process ENHANCERLM_VARIANTS {
    tag "$meta.id"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "${ task.accelerator ?
        (workflow.containerEngine in ['singularity', 'apptainer'] ? 'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda12.8-sif' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0-cuda12.8') :
        (workflow.containerEngine in ['singularity', 'apptainer'] ? 'oras://ghcr.io/enhancerlm/enhancerlm:0.1.0-sif' : 'ghcr.io/enhancerlm/enhancerlm:0.1.0') }"

    input:
    tuple val(meta), path(model)
    path(genome)
    path(vcf)

    output:
    tuple val(meta), path("${prefix}.scored.vcf.gz")    , emit: vcf
    tuple val(meta), path("${prefix}.scored.vcf.gz.tbi"), emit: tbi, optional: true
    tuple val(meta), path("${prefix}.scores.tsv")       , emit: tsv
    tuple val(meta), path("${prefix}.variants.json")    , emit: json
    tuple val(meta), path("${prefix}.*_mqc.*")          , emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm
    tuple val("${task.process}"), val('torch')     , eval('enhancerlm versions --tool torch')     , topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('cuda')      , eval('enhancerlm versions --tool cuda')      , topic: versions, emit: versions_cuda

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    enhancerlm variants \\
        --model ${model} \\
        --genome ${genome} \\
        --vcf ${vcf} \\
        --outdir . \\
        --prefix ${prefix} \\
        --device ${device} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo -n | gzip > ${prefix}.scored.vcf.gz
    touch ${prefix}.scores.tsv ${prefix}.variants_mqc.tsv ${prefix}.variant_deltas_mqc.json ${prefix}.variant_top_mqc.html
    echo '{"prefix": "${prefix}"}' > ${prefix}.variants.json
    """
}
