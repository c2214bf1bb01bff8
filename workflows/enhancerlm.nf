/*
 * The enhancerlm workflow: prepare -> train, ensemble, evaluate and benchmark -> genome scan, motif discovery
 * and variant scoring with the final models -> MultiQC.
 */

include { ENHANCERLM_PREPARE  } from '../modules/local/enhancerlm/prepare/main'
include { TRAIN_EVALUATE      } from '../subworkflows/local/train_evaluate/main'
include { GENOME_PREDICT      } from '../subworkflows/local/genome_predict/main'
include { ENHANCERLM_MOTIFS   } from '../modules/local/enhancerlm/motifs/main'
include { ENHANCERLM_VARIANTS } from '../modules/local/enhancerlm/variants/main'
include { MULTIQC             } from '../modules/local/multiqc/main'

workflow ENHANCERLM {
    take:
    ch_samplesheet // channel: [ val(meta), path(fasta), val(label), val(split) ]

    main:
    // One samplesheet per dataset, naming each FASTA as the prepare task stages it (fasta/<name>), rows in
    // their original order (the positive class may be decided by the first row).
    // channel: [ val(meta), [ path(fasta), ... ], [ val(row), ... ] ]
    ch_grouped = ch_samplesheet
        .map { meta, fasta, label, split -> [ meta, fasta, "${meta.id},fasta/${fasta.name},${label},${split}" ] }
        .groupTuple()
        .map { meta, fastas, rows ->
            if (fastas*.name.toSet().size() != fastas.size()) {
                error("${params.input}: dataset ${meta.id}: two FASTA files share a file name, which staging cannot keep apart; rename one")
            }
            [ meta, fastas, rows ]
        }

    // channel: [ val(meta), path(samplesheet), [ path(fasta), ... ] ]
    ch_prepare = ch_grouped
        .map { meta, fastas, rows -> [ "${meta.id}.samplesheet.csv", ([ 'dataset,fasta,label,split' ] + rows).join('\n') + '\n' ] }
        .collectFile()
        .map { sheet -> [ sheet.name - '.samplesheet.csv', sheet ] }
        .join( ch_grouped.map { meta, fastas, rows -> [ meta.id, meta, fastas ] } )
        .map { id, sheet, meta, fastas -> [ meta, sheet, fastas ] }

    ENHANCERLM_PREPARE ( ch_prepare )

    // channel (value): [ val(meta2), path(base_model) ]: a local model directory is staged; a preset or Hub id
    // travels as meta2.id
    def base_model = file(params.model)
    ch_base_model = base_model.exists() ?
        channel.value([ [ id: base_model.name ], base_model ]) :
        channel.value([ [ id: params.model ], [] ])

    // channel: val(kmer)
    ch_kmers = channel.fromList(params.kmers.toString().tokenize(',')*.toInteger())

    // channel: val(seed): params.seed, params.seed + 1, ... (params.replicates of them)
    ch_seeds = channel.fromList((0..<params.replicates).collect { replicate -> params.seed + replicate })

    TRAIN_EVALUATE ( ENHANCERLM_PREPARE.out.dataset, ch_kmers, ch_seeds, ch_base_model )

    // The final models: the first seed's ensembles, or its k-mer models when no ensemble is built; they scan the
    // genome, explain themselves with motifs and score variants
    // channel: [ val(meta), path(model) ]
    ch_predict_models = TRAIN_EVALUATE.out.ensemble
        .mix( TRAIN_EVALUATE.out.model.filter { meta, model -> meta.kmer != null && !(params.ensemble != 'none' && params.kmers.toString().tokenize(',').size() >= 2) } )
        .filter { meta, model -> meta.seed == params.seed }

    ch_genome    = params.skip_predict ? channel.empty() : channel.value([ [ id: file(params.genome).name ], file(params.genome, checkIfExists: true) ])
    ch_regions   = channel.value(params.genome_regions ? file(params.genome_regions, checkIfExists: true) : [])
    ch_blacklist = channel.value(params.blacklist ? file(params.blacklist, checkIfExists: true) : [])

    GENOME_PREDICT ( ch_predict_models, ch_genome, ch_regions, ch_blacklist )

    // Motifs on each final model's own dataset
    // channel: [ val(meta), path(model), path(dataset) ]
    ch_motifs = ch_predict_models
        .filter { meta, model -> !params.skip_motifs }
        .map { meta, model -> [ meta.dataset, meta, model ] }
        .combine( ENHANCERLM_PREPARE.out.dataset.map { meta, dataset -> [ meta.id, dataset ] }, by: 0 )
        .map { dataset_id, meta, model, dataset -> [ meta, model, dataset ] }

    ENHANCERLM_MOTIFS ( ch_motifs )

    // Variant effects of every final model on the VCF, against the genome it refers to
    // channel: [ val(meta), path(model) ]
    ch_variant_models = ch_predict_models
        .filter { meta, model -> !params.skip_variants }

    ENHANCERLM_VARIANTS (
        ch_variant_models,
        channel.value(file(params.genome, checkIfExists: true)),
        channel.value(file(params.vcf, checkIfExists: true))
    )

    // Software versions from every task, as MultiQC's software-versions YAML
    // channel: path(versions_yml)
    ch_versions = channel.topic('versions')
        .map { process, tool, version -> [ process.tokenize(':').last(), "    ${tool}: ${version}" ] }
        .unique()
        .groupTuple()
        .map { process, lines -> "${process}:\n" + lines.sort().join('\n') }
        .collectFile(name: 'enhancerlm_software_mqc_versions.yml', storeDir: "${params.outdir}/pipeline_info", newLine: true, sort: true)

    // channel: [ path(mqc), ... ]
    ch_multiqc_files = ENHANCERLM_PREPARE.out.multiqc
        .mix( TRAIN_EVALUATE.out.multiqc )
        .mix( GENOME_PREDICT.out.multiqc )
        .mix( ENHANCERLM_MOTIFS.out.multiqc )
        .mix( ENHANCERLM_VARIANTS.out.multiqc )
        .flatMap { meta, files -> files }
        .mix(ch_versions)
        .collect()

    ch_multiqc_config = channel.value(file(params.multiqc_config ?: "${projectDir}/assets/multiqc_config.yml", checkIfExists: true))

    MULTIQC ( ch_multiqc_files, ch_multiqc_config )

    emit:
    multiqc_report = MULTIQC.out.report // channel: path(multiqc_report.html)
}
