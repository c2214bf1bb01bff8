/*
 * One model per dataset and k-mer size, trained in parallel, each evaluated on its dataset's test split.
 */

include { ENHANCERLM_TRAIN    } from '../../../modules/local/enhancerlm/train/main'
include { ENHANCERLM_EVALUATE } from '../../../modules/local/enhancerlm/evaluate/main'

workflow TRAIN_EVALUATE {
    take:
    ch_dataset    // channel: [ val(meta), path(dataset) ]
    ch_kmers      // channel: val(kmer), one item per k-mer size
    ch_base_model // channel (value): [ val(meta2), path(base_model) ]; path is [] for presets and Hub ids

    main:
    // channel: [ val(meta), path(dataset) ] with meta = [ id: <dataset>_k<k>, dataset: <dataset>, kmer: k ]
    ch_train = ch_dataset
        .combine(ch_kmers)
        .map { meta, dataset, kmer -> [ meta + [ id: "${meta.id}_k${kmer}", dataset: meta.id, kmer: kmer ], dataset ] }

    ENHANCERLM_TRAIN ( ch_train, ch_base_model )

    // channel: [ val(meta), path(model), path(dataset) ]
    ch_evaluate = ENHANCERLM_TRAIN.out.model.join(ch_train)

    ENHANCERLM_EVALUATE ( ch_evaluate )

    emit:
    model   = ENHANCERLM_TRAIN.out.model       // channel: [ val(meta), path(model) ]
    metrics = ENHANCERLM_EVALUATE.out.metrics  // channel: [ val(meta), path(metrics_json) ]
    multiqc = ENHANCERLM_EVALUATE.out.multiqc  // channel: [ val(meta), [ path(mqc) ] ]
}
