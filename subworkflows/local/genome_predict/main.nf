/*
 * Genome-wide prediction: the genome cut into chunks, every chunk scanned by every model in parallel (GPU tasks
 * with -profile gpu), and each model's chunks gathered into one set of tracks and regions, identical to one
 * whole-genome scan, with a table of the chunks' scans for the report.
 */

include { ENHANCERLM_CHUNKS           } from '../../../modules/local/enhancerlm/chunks/main'
include { ENHANCERLM_PREDICT          } from '../../../modules/local/enhancerlm/predict/main'
include { ENHANCERLM_MERGEPREDICTIONS } from '../../../modules/local/enhancerlm/mergepredictions/main'
include { CHUNK_SUMMARY               } from '../../../modules/local/chunk_summary/main'

workflow GENOME_PREDICT {
    take:
    ch_models    // channel: [ val(meta), path(model) ]
    ch_genome    // channel (value): [ val(meta), path(fasta), path(fai), path(gzi) ], indexed once
    ch_regions   // channel (value): path(regions), or [] to scan every window
    ch_blacklist // channel (value): path(blacklist), or []

    main:
    // channel (value): [ val(meta), path(fai) ]
    ch_fai = ch_genome.map { meta, _fasta, fai, _gzi -> [ meta, fai ] }

    ENHANCERLM_CHUNKS ( ch_fai )

    // channel: val(chunk), contig:start-end, one per line of the chunks BED
    ch_chunks = ENHANCERLM_CHUNKS.out.bed
        .flatMap { _meta, bed -> bed.readLines() }
        .map { line -> line.tokenize('\t')[3] }

    // channel: [ val(meta), path(model), val(chunk) ]
    ch_scans = ch_models
        .combine(ch_chunks)

    ENHANCERLM_PREDICT ( ch_scans, ch_genome, ch_regions, ch_blacklist )

    // channel (value): val(count), the number of chunks
    ch_chunk_count = ch_chunks.count()

    // channel: [ val(meta), [ path(scan), ... ] ], every chunk of one model, as soon as its last chunk is scanned
    // (a groupKey of the chunk count: without it every merge waits for every scan of every model)
    ch_merge = ENHANCERLM_PREDICT.out.scan
        .combine(ch_chunk_count)
        .map { meta, scan, count -> [ groupKey(meta, count), scan ] }
        .groupTuple()
        .map { key, scans -> [ key.getGroupTarget(), scans.sort { scan -> scan.name } ] } // arrival order would defeat -resume

    ENHANCERLM_MERGEPREDICTIONS ( ch_merge, ch_fai )

    CHUNK_SUMMARY ( ch_merge )

    emit:
    bed      = ENHANCERLM_MERGEPREDICTIONS.out.bed      // channel: [ val(meta), path(enhancers_bed) ]
    bigwig   = ENHANCERLM_MERGEPREDICTIONS.out.bigwig   // channel: [ val(meta), path(windows_bw) ]
    multiqc  = ENHANCERLM_MERGEPREDICTIONS.out.multiqc.mix( CHUNK_SUMMARY.out.multiqc ) // channel: [ val(meta), [ path(mqc) ] ]
}
