/*
 * Per dataset and seed: one model per k-mer size (trained in parallel), the k-mer baseline, the ensemble of the
 * k-mer models, and every one of them evaluated on the dataset's test split; then per dataset the benchmark
 * table over all models and seeds.
 */

include { ENHANCERLM_TRAIN    } from '../../../modules/local/enhancerlm/train/main'
include { ENHANCERLM_ENSEMBLE } from '../../../modules/local/enhancerlm/ensemble/main'
include { ENHANCERLM_EVALUATE } from '../../../modules/local/enhancerlm/evaluate/main'
include { ENHANCERLM_BENCHMARK } from '../../../modules/local/enhancerlm/benchmark/main'

workflow TRAIN_EVALUATE {
    take:
    ch_dataset    // channel: [ val(meta), path(dataset) ]
    ch_kmers      // channel: val(kmer), one item per k-mer size
    ch_seeds      // channel: val(seed), one item per replicate
    ch_base_model // channel (value): [ val(meta2), path(base_model) ]; path is [] for presets and Hub ids
    settings      // map: the run's parameters, typed (replicates, baseline, ensemble)

    main:
    // channel: [ val(meta), path(dataset), val(meta2), path(base_model) ], meta = [ id, dataset, kmer, seed ]
    ch_kmer_models = ch_dataset
        .combine(ch_kmers)
        .combine(ch_seeds)
        .combine(ch_base_model)
        .map { meta, dataset, kmer, seed, meta2, base_model ->
            [ meta + [ id: "${meta.id}_k${kmer}" + (settings.replicates > 1 ? "_seed${seed}" : ''), dataset: meta.id, kmer: kmer, seed: seed ], dataset, meta2, base_model ]
        }
    ch_baseline = ch_dataset
        .combine(ch_seeds)
        .filter { _meta, _dataset, _seed -> settings.baseline }
        .map { meta, dataset, seed ->
            [ meta + [ id: "${meta.id}_kmer-baseline" + (settings.replicates > 1 ? "_seed${seed}" : ''), dataset: meta.id, kmer: null, seed: seed ], dataset, [ id: 'kmer-baseline' ], [] ]
        }

    // channel: [ val(meta), path(dataset) ] and [ val(meta2), path(base_model) ], item by item
    ch_train = ch_kmer_models
        .mix(ch_baseline)
        .multiMap { meta, dataset, meta2, base_model ->
            dataset: [ meta, dataset ]
            model:   [ meta2, base_model ]
        }

    ENHANCERLM_TRAIN ( ch_train.dataset, ch_train.model )

    // The k-mer models of each dataset and seed, in k order, with the dataset they were trained on; grouped under a
    // groupKey of the number of k-mer sizes, so each ensemble starts when its last member is trained
    // channel: [ val(meta), [ path(model), ... ], path(dataset) ], meta = [ id: <dataset>_ensemble[_seed<N>], dataset, seed ]
    def kmer_count = settings.kmers.toString().tokenize(',').size()
    ch_ensemble = ENHANCERLM_TRAIN.out.model
        .filter { meta, _model -> meta.kmer != null && settings.ensemble != 'none' }
        .map { meta, model -> [ groupKey([ meta.dataset, meta.seed ], kmer_count), meta.kmer, model ] }
        .groupTuple()
        .filter { _key, _kmers, models -> models.size() >= 2 }
        .map { key, kmers, models -> [ key.getGroupTarget()[0], key.getGroupTarget()[1], [ kmers, models ].transpose().sort { pair -> pair[0] }.collect { pair -> pair[1] } ] }
        .combine( ch_dataset.map { meta, dataset -> [ meta.id, meta, dataset ] }, by: 0 )
        .map { dataset_id, seed, models, meta, dataset ->
            [ meta + [ id: "${dataset_id}_ensemble" + (settings.replicates > 1 ? "_seed${seed}" : ''), dataset: dataset_id, seed: seed ], models, dataset ]
        }

    ENHANCERLM_ENSEMBLE ( ch_ensemble )

    // Each model on the test split of its own dataset (no training table to check leaks against: the dataset's
    // leak column already compares its test with its train split)
    // channel: [ val(meta), path(model), path(dataset), [] ]
    ch_evaluate = ENHANCERLM_TRAIN.out.model
        .join( ch_train.dataset )
        .mix( ENHANCERLM_ENSEMBLE.out.model.join( ch_ensemble.map { meta, _models, dataset -> [ meta, dataset ] } ) )
        .map { meta, model, dataset -> [ meta, model, dataset, [] ] }

    ENHANCERLM_EVALUATE ( ch_evaluate )

    // Every evaluation of a dataset (all models and seeds), with the cross-validation files where there are some
    // channel: [ val(meta), [ path(evaluation_file), ... ] ], meta = [ id: <dataset> ]
    // channel: [ val(meta), [ path(cv_json), path(cv_predictions) ] ], only models trained with cross-validation
    ch_cross_validation = ENHANCERLM_EVALUATE.out.cv
        .map { meta, cv_json, cv_predictions -> [ meta, [ cv_json, cv_predictions ] ] }
    // the remainder join pads a model without cross-validation with one null
    ch_benchmark = ENHANCERLM_EVALUATE.out.metrics
        .join( ENHANCERLM_EVALUATE.out.predictions )
        .join( ch_cross_validation, remainder: true )
        .map { meta, metrics, predictions, cv -> [ meta.dataset, [ metrics, predictions ] + ( cv ?: [] ) ] }
        .groupTuple()
        .map { dataset_id, files -> [ [ id: dataset_id ], files.flatten().sort { file -> file.name } ] } // arrival order would defeat -resume

    ENHANCERLM_BENCHMARK ( ch_benchmark )

    emit:
    model    = ENHANCERLM_TRAIN.out.model       // channel: [ val(meta), path(model) ]
    ensemble = ENHANCERLM_ENSEMBLE.out.model    // channel: [ val(meta), path(model) ]
    metrics  = ENHANCERLM_EVALUATE.out.metrics  // channel: [ val(meta), path(metrics_json) ]
    multiqc  = ENHANCERLM_EVALUATE.out.multiqc.mix( ENHANCERLM_BENCHMARK.out.multiqc ) // channel: [ val(meta), [ path(mqc) ] ]
    benchmark = ENHANCERLM_BENCHMARK.out.table  // channel: [ val(meta), path(benchmark_tsv) ]
}
