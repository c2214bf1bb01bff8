process ENHANCERLM_BENCHMARK {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/enhancerlm/enhancerlm:0.1.0'

    input:
    tuple val(meta), path(evaluations, arity: '1..*', stageAs: 'evaluations/*')

    output:
    tuple val(meta), path("${prefix}.benchmark.tsv")     , emit: table
    tuple val(meta), path("${prefix}.benchmark.json")    , emit: json
    tuple val(meta), path("${prefix}.benchmark.md")      , emit: markdown
    tuple val(meta), path("${prefix}.benchmark_mqc.html"), emit: multiqc
    tuple val("${task.process}"), val('enhancerlm'), eval('enhancerlm versions --tool enhancerlm'), topic: versions, emit: versions_enhancerlm

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix   = task.ext.prefix ?: "${meta.id}"
    """
    enhancerlm benchmark \\
        --evaluations evaluations \\
        --dataset ${meta.id} \\
        --outdir . \\
        --prefix ${prefix} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'model\\tsubset\\tseeds\\n' > ${prefix}.benchmark.tsv
    echo '{"dataset": "${meta.id}"}' > ${prefix}.benchmark.json
    echo '# Benchmark: ${meta.id}' > ${prefix}.benchmark.md
    touch ${prefix}.benchmark_mqc.html
    """
}
