/*
 * The enhancerlm workflow: prepare (FASTA datasets, and regions on the genome with GC-matched genomic negatives)
 * -> train, ensemble, evaluate and benchmark -> with the final models, the evaluation on external test sets
 * (datasets of test rows only), the genome scan (with --genome), motif discovery and variant scoring (with
 * --genome and --vcf) -> MultiQC.
 */

include { ENHANCERLM_PREPARE     } from '../modules/local/enhancerlm/prepare/main'
include { ENHANCERLM_GENOMEINDEX } from '../modules/local/enhancerlm/genomeindex/main'
include { ENHANCERLM_PREPAREREGIONS } from '../modules/local/enhancerlm/prepareregions/main'
include { ENHANCERLM_EVALUATE as ENHANCERLM_EVALUATE_EXTERNAL } from '../modules/local/enhancerlm/evaluate/main'
include { TRAIN_EVALUATE         } from '../subworkflows/local/train_evaluate/main'
include { GENOME_PREDICT         } from '../subworkflows/local/genome_predict/main'
include { ENHANCERLM_MOTIFS      } from '../modules/local/enhancerlm/motifs/main'
include { ENHANCERLM_VARIANTS    } from '../modules/local/enhancerlm/variants/main'
include { MULTIQC                } from '../modules/local/multiqc/main'
include { paramsSummaryMap       } from 'plugin/nf-schema'
include { paramsSummaryMultiqc   } from '../subworkflows/local/utils_nfcore_pipeline'

workflow ENHANCERLM {
    take:
    ch_samplesheet // channel: [ val(meta), path(fasta), val(label), val(split) ]
    ch_regions     // channel: [ val(meta), path(bed), val(test_chroms) ]
    settings       // map: the run's parameters, typed as nextflow_schema.json declares them

    main:
    // One samplesheet per dataset, naming each FASTA as the prepare task stages it (fasta/<name>), rows in
    // their original order (the positive class may be decided by the first row). A dataset of test rows only is
    // an external test set (meta.test_only): it trains nothing, and every final model is evaluated on it.
    // channel: [ val(meta), [ path(fasta), ... ], [ val(row), ... ] ], meta = [ id, test_only ]
    ch_grouped = ch_samplesheet
        .map { meta, fasta, label, split -> [ meta, fasta, "${meta.id},fasta/${fasta.name},${label},${split}", split ] }
        .groupTuple()
        .map { meta, fastas, rows, splits ->
            if (fastas*.name.toSet().size() != fastas.size()) {
                error("${settings.input}: dataset ${meta.id}: two FASTA files share a file name, which staging cannot keep apart; rename one")
            }
            [ meta + [ test_only: !splits.contains('train') ], fastas, rows ]
        }

    // channel: [ val(meta), path(samplesheet), [ path(fasta), ... ] ]
    ch_prepare = ch_grouped
        .map { meta, _fastas, rows -> [ "${meta.id}.samplesheet.csv", ([ 'dataset,fasta,label,split' ] + rows).join('\n') + '\n' ] }
        .collectFile()
        .map { sheet -> [ sheet.name - '.samplesheet.csv', sheet ] }
        .join( ch_grouped.map { meta, fastas, _rows -> [ meta.id, meta, fastas ] } )
        .map { _id, sheet, meta, fastas -> [ meta, sheet, fastas ] }

    ENHANCERLM_PREPARE ( ch_prepare )

    // The reference, indexed once for every task that reads it, only when a step needs it
    if (settings.vcf && !settings.genome) {
        error("--vcf ${settings.vcf}: variant scoring needs --genome, the reference the VCF refers to")
    }
    if (settings.input_regions && !settings.genome) {
        error("--input_regions ${settings.input_regions}: region datasets need --genome, the genome their regions and negatives come from")
    }
    def scan  = settings.genome && !settings.skip_predict
    def score = settings.genome && settings.vcf && !settings.skip_variants
    // channel (value): [ val(meta), path(fasta), path(fai), path(gzi) ]
    ch_genome = channel.empty()
    if (scan || score || settings.input_regions) {
        def genome = file(settings.genome, checkIfExists: true)
        ENHANCERLM_GENOMEINDEX ( channel.value([ [ id: genome.simpleName ], genome ]) )
        ch_genome = ENHANCERLM_GENOMEINDEX.out.index
    }
    // channel (value): path(blacklist), or [] for none
    ch_blacklist = channel.value(settings.blacklist ? file(settings.blacklist, checkIfExists: true) : [])

    // Datasets of positive regions on the genome, with GC-matched negatives drawn from it and the held-out
    // chromosomes as their test split (the route DNABERT-Enhancer trained on)
    ENHANCERLM_PREPAREREGIONS (
        ch_regions.map { meta, bed, test_chroms -> [ meta + [ test_only: false ], bed, test_chroms ] },
        ch_genome,
        ch_blacklist
    )

    // channel: [ val(meta), path(dataset) ]: the datasets that train models, and the external test sets
    ch_training_datasets = ENHANCERLM_PREPARE.out.dataset
        .filter { meta, _dataset -> !meta.test_only }
        .mix( ENHANCERLM_PREPAREREGIONS.out.dataset )
    ch_external_datasets = ENHANCERLM_PREPARE.out.dataset.filter { meta, _dataset -> meta.test_only }

    // channel (value): [ val(meta2), path(base_model) ]: a local model directory is staged; a preset or Hub id
    // travels as meta2.id
    def base_model = file(settings.model)
    ch_base_model = base_model.exists() ?
        channel.value([ [ id: base_model.name ], base_model ]) :
        channel.value([ [ id: settings.model ], [] ])

    def kmers = settings.kmers.toString().tokenize(',').collect { k -> k.toInteger() }
    if (kmers.toSet().size() != kmers.size()) {
        error("--kmers ${settings.kmers}: each k-mer size may be given once")
    }
    // channel: val(kmer)
    ch_kmers = channel.fromList(kmers)

    // channel: val(seed): settings.seed, settings.seed + 1, ... (settings.replicates of them)
    ch_seeds = channel.fromList((0..<settings.replicates).collect { replicate -> settings.seed + replicate })

    TRAIN_EVALUATE ( ch_training_datasets, ch_kmers, ch_seeds, ch_base_model, settings )

    // The final models: the first seed's ensembles, or its k-mer models when no ensemble is built; they scan the
    // genome, explain themselves with motifs and score variants
    // channel: [ val(meta), path(model) ]
    def ensembled = settings.ensemble != 'none' && kmers.size() >= 2
    ch_final_models = TRAIN_EVALUATE.out.ensemble
        .mix( TRAIN_EVALUATE.out.model.filter { meta, _model -> meta.kmer != null && !ensembled } )
        .filter { meta, _model -> meta.seed == settings.seed }

    // Every final model on every external test set, its records checked for copies of the model's own training
    // records (the dataset it was trained on travels with it)
    // channel: [ val(meta), path(model), path(dataset), path(training_dataset) ], meta.id = <model>_on_<test set>
    ch_external = ch_final_models
        .map { meta, model -> [ meta.dataset, meta, model ] }
        .combine( ch_training_datasets.map { meta, dataset -> [ meta.id, dataset ] }, by: 0 )
        .combine( ch_external_datasets )
        .map { _dataset_id, meta, model, training, meta2, dataset ->
            [ meta + [ id: "${meta.id}_on_${meta2.id}", external: meta2.id ], model, dataset, training ]
        }

    ENHANCERLM_EVALUATE_EXTERNAL ( ch_external )

    // channel: [ path(mqc), ... ]
    ch_multiqc_files = ENHANCERLM_PREPARE.out.multiqc
        .mix( ENHANCERLM_PREPAREREGIONS.out.multiqc, TRAIN_EVALUATE.out.multiqc, ENHANCERLM_EVALUATE_EXTERNAL.out.multiqc )
        .flatMap { _meta, files -> files }

    if (scan) {
        GENOME_PREDICT (
            ch_final_models,
            ch_genome,
            channel.value(settings.genome_regions ? file(settings.genome_regions, checkIfExists: true) : []),
            ch_blacklist
        )
        ch_multiqc_files = ch_multiqc_files.mix( GENOME_PREDICT.out.multiqc.flatMap { _meta, files -> files } )
    }

    // Motifs on each final model's own dataset
    if (!settings.skip_motifs) {
        // channel: [ val(meta), path(model), path(dataset) ]
        ch_motifs = ch_final_models
            .map { meta, model -> [ meta.dataset, meta, model ] }
            .combine( ch_training_datasets.map { meta, dataset -> [ meta.id, dataset ] }, by: 0 )
            .map { _dataset_id, meta, model, dataset -> [ meta, model, dataset ] }

        ENHANCERLM_MOTIFS ( ch_motifs )
        ch_multiqc_files = ch_multiqc_files.mix( ENHANCERLM_MOTIFS.out.multiqc.flatMap { _meta, files -> files } )
    }

    // Variant effects of every final model on the VCF, against the genome it refers to; TF sites from JASPAR
    // (--variant_motifs jaspar, through ext.args) or from a MEME file, staged as an input
    if (score) {
        def vcf = file(settings.vcf, checkIfExists: true)
        def motif_file = settings.variant_motifs && settings.variant_motifs != 'jaspar'
        ENHANCERLM_VARIANTS (
            ch_final_models,
            ch_genome,
            channel.value([ [ id: vcf.simpleName ], vcf ]),
            channel.value(motif_file ? file(settings.variant_motifs, checkIfExists: true) : [])
        )
        ch_multiqc_files = ch_multiqc_files.mix( ENHANCERLM_VARIANTS.out.multiqc.flatMap { _meta, files -> files } )
    }

    // Software versions from every task but MultiQC's (which reads them), as MultiQC's software-versions YAML
    // channel: path(versions_yml)
    ch_versions = channel.topic('versions')
        .unique()
        .map { process, tool, version -> [ process.tokenize(':').last(), "    ${tool}: ${version}" ] }
        .mix( channel.of(
            [ 'Workflow', "    ${workflow.manifest.name}: v${workflow.manifest.version}" ],
            [ 'Workflow', "    Nextflow: ${workflow.nextflow.version}" ]
        ) )
        .groupTuple()
        .map { process, lines -> "${process}:\n" + lines.unique().sort().join('\n') }
        .collectFile(name: 'enhancerlm_software_mqc_versions.yml', storeDir: "${settings.outdir}/pipeline_info", newLine: true, sort: true)

    // The run's parameters (those that differ from the defaults), as the report's workflow summary
    // channel: path(workflow_summary_mqc_yaml)
    ch_workflow_summary = channel.value(paramsSummaryMultiqc(paramsSummaryMap(workflow, parameters_schema: "nextflow_schema.json")))
        .collectFile(name: 'workflow_summary_mqc.yaml')

    // channel: [ val(meta), [ path(mqc), ... ], [ path(config), ... ], path(logo), [], [] ]
    def multiqc_configs = [ file("${projectDir}/assets/multiqc_config.yml", checkIfExists: true) ] +
        (settings.multiqc_config ? [ file(settings.multiqc_config, checkIfExists: true) ] : [])
    def multiqc_logo = settings.multiqc_logo ? file(settings.multiqc_logo, checkIfExists: true) : []
    ch_multiqc = ch_multiqc_files
        .mix( ch_versions, ch_workflow_summary )
        .collect( sort: { a, b -> a.name <=> b.name } ) // arrival order would change the staging and defeat -resume
        .map { files -> [ [ id: 'multiqc' ], files, multiqc_configs, multiqc_logo, [], [] ] }

    MULTIQC ( ch_multiqc )

    emit:
    multiqc_report = MULTIQC.out.report // channel: [ val(meta), path(multiqc_report.html) ]
}
