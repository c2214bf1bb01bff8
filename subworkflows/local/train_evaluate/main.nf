/*
 * Per dataset: one model per k-mer size (trained in parallel), the k-mer baseline, the ensemble of the k-mer
 * models, and every one of them evaluated on the dataset's test split.
 */

include { ENHANCERLM_TRAIN    } from '../../../modules/local/enhancerlm/train/main'
include { ENHANCERLM_ENSEMBLE } from '../../../modules/local/enhancerlm/ensemble/main'
include { ENHANCERLM_EVALUATE } from '../../../modules/local/enhancerlm/evaluate/main'

workflow TRAIN_EVALUATE {
    take:
    ch_dataset    // channel: [ val(meta), path(dataset) ]
    ch_kmers      // channel: val(kmer), one item per k-mer size
    ch_base_model // channel (value): [ val(meta2), path(base_model) ]; path is [] for presets and Hub ids

    main:
    // channel: [ val(meta), path(dataset), val(meta2), path(base_model) ], meta = [ id, dataset, kmer ]
    ch_kmer_models = ch_dataset
        .combine(ch_kmers)
        .combine(ch_base_model)
        .map { meta, dataset, kmer, meta2, base_model ->
            [ meta + [ id: "${meta.id}_k${kmer}", dataset: meta.id, kmer: kmer ], dataset, meta2, base_model ]
        }
    ch_baseline = ch_dataset
        .filter { params.baseline }
        .map { meta, dataset -> [ meta + [ id: "${meta.id}_kmer-baseline", dataset: meta.id, kmer: null ], dataset, [ id: 'kmer-baseline' ], [] ] }

    // channel: [ val(meta), path(dataset) ] and [ val(meta2), path(base_model) ], item by item
    ch_train = ch_kmer_models
        .mix(ch_baseline)
        .multiMap { meta, dataset, meta2, base_model ->
            dataset: [ meta, dataset ]
            model:   [ meta2, base_model ]
        }

    ENHANCERLM_TRAIN ( ch_train.dataset, ch_train.model )

    // The k-mer models of each dataset, in k order, with the dataset they were trained on
    // channel: [ val(meta), [ path(model), ... ], path(dataset) ], meta = [ id: <dataset>_ensemble, dataset ]
    ch_ensemble = ENHANCERLM_TRAIN.out.model
        .filter { meta, model -> meta.kmer != null && params.ensemble != 'none' }
        .map { meta, model -> [ meta.dataset, meta.kmer, model ] }
        .groupTuple()
        .filter { dataset_id, kmers, models -> models.size() >= 2 }
        .map { dataset_id, kmers, models -> [ dataset_id, [ kmers, models ].transpose().sort { it[0] }.collect { it[1] } ] }
        .join( ch_dataset.map { meta, dataset -> [ meta.id, meta, dataset ] } )
        .map { dataset_id, models, meta, dataset -> [ meta + [ id: "${dataset_id}_ensemble", dataset: dataset_id ], models, dataset ] }

    ENHANCERLM_ENSEMBLE ( ch_ensemble )

    // channel: [ val(meta), path(model), path(dataset) ]
    ch_evaluate = ENHANCERLM_TRAIN.out.model
        .join( ch_train.dataset )
        .mix( ENHANCERLM_ENSEMBLE.out.model.join( ch_ensemble.map { meta, models, dataset -> [ meta, dataset ] } ) )

    ENHANCERLM_EVALUATE ( ch_evaluate )

    emit:
    model    = ENHANCERLM_TRAIN.out.model       // channel: [ val(meta), path(model) ]
    ensemble = ENHANCERLM_ENSEMBLE.out.model    // channel: [ val(meta), path(model) ]
    metrics  = ENHANCERLM_EVALUATE.out.metrics  // channel: [ val(meta), path(metrics_json) ]
    multiqc  = ENHANCERLM_EVALUATE.out.multiqc  // channel: [ val(meta), [ path(mqc) ] ]
}
