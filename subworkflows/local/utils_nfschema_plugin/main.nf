/*
 * Parameter help, summary and validation through the nf-schema plugin. The interface (inputs in this order) is
 * nf-core's utils_nfschema_plugin subworkflow of nf-core/modules (2026-08), cli_typecast included. This pipeline's own
 * copy (in subworkflows/local/, not installed by nf-core tools: no modules.json entry).
 */

include { paramsSummaryLog   } from 'plugin/nf-schema'
include { validateParameters } from 'plugin/nf-schema'
include { paramsHelp         } from 'plugin/nf-schema'

workflow UTILS_NFSCHEMA_PLUGIN {

    take:
    input_workflow    // workflow: the workflow object, for its metadata
    validate_params   // boolean: validate the parameters
    parameters_schema // string: path of the parameters JSON schema ('' or null: the configured one)
    help              // boolean or string: show the help message (a string: help for that parameter)
    help_full         // boolean: show the full help message
    show_hidden       // boolean: show hidden parameters in the help
    before_text       // string: text before the help and summary
    after_text        // string: text after the help and summary
    command           // string: an example command line for the help
    cli_typecast      // boolean: validate command-line values as the types they spell (null: nf-schema's default)

    main:
    def schema_options = parameters_schema ? [ parameters_schema: parameters_schema ] : [:]

    if (help || help_full) {
        def help_options = [ beforeText: before_text, afterText: after_text, command: command, showHidden: show_hidden, fullHelp: help_full ] + schema_options
        log.info paramsHelp(help_options, (help instanceof String && help != "true") ? help : "")
        exit 0
    }

    log.info before_text
    log.info paramsSummaryLog(schema_options, input_workflow)
    log.info after_text

    if (validate_params) {
        def validate_options = schema_options + (cli_typecast != null ? [ cast_cli_params: cli_typecast ] : [:])
        validateParameters(validate_options)
    }

    emit:
    dummy_emit = true
}
