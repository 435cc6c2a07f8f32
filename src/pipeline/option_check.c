/*
 * option_check.c: options fail loudly (issue 16). Before a read or a
 * write starts, every option given must be declared, by the pipeline's own
 * table below or by a format's table (ImdFormatPlugin.options), and its value
 * must parse as the declared type: a misspelt name or a value such as
 * accept_duplicate_tag=ture is a usage error naming both, not a silent
 * default found (or not) later in a reader.
 */
#include "internal.h"

/* The options the pipeline itself reads (docs/c-api.md "Options"). */
static const char *const resample_choices[] = {"none", "nearest", "linear", NULL};

static const ImdOptionSpec pipeline_options[] = {
    {"input_format", IMD_OPTION_STRING, "read with this format only", NULL},
    {"output_format", IMD_OPTION_STRING, "imd_write's format when none is given", NULL},
    {"template", IMD_OPTION_STRING, "URL of a series whose DICOM identity each series takes",
     NULL},
    {"geometry", IMD_OPTION_STRING, "URL of a series whose geometry each series takes", NULL},
    {"template_series", IMD_OPTION_STRING,
     "which series at the template URL: N (as image_info lists them) or a split label", NULL},
    {"geometry_series", IMD_OPTION_STRING,
     "which series at the geometry URL: N (as image_info lists them) or a split label", NULL},
    {"calling_aet", IMD_OPTION_STRING, "calling AE title for dicom:// URLs", NULL},
    {"resample", IMD_OPTION_CHOICE,
     "with geometry=: interpolate onto its grid (none, nearest, linear)", resample_choices},
    /* The dicom transport's (docs/network.md); timeouts in seconds. */
    {"net_connect_timeout", IMD_OPTION_DOUBLE, "dicom://: TCP connect timeout (s)", NULL},
    {"net_association_timeout", IMD_OPTION_DOUBLE,
     "dicom://: wait for association accept/release (ARTIM, s)", NULL},
    {"net_dimse_timeout", IMD_OPTION_DOUBLE, "dicom://: wait for a DIMSE response (s)", NULL},
    {"net_idle_timeout", IMD_OPTION_DOUBLE, "dicom://: a stalled PDU or send (s)", NULL},
    {"net_max_pdu", IMD_OPTION_INT, "dicom://: the longest PDU we receive (bytes)", NULL},
    {"net_username", IMD_OPTION_STRING, "dicom://: user identity (PS3.7 D.3.3.7)", NULL},
    {"net_password", IMD_OPTION_STRING, "dicom://: passcode of the user identity", NULL},
    {"move_destination", IMD_OPTION_STRING, "dicom:// read: C-MOVE to this AE (ours)", NULL},
    {"move_port", IMD_OPTION_INT, "dicom:// read: port of the C-MOVE listener", NULL},
    {"move_address", IMD_OPTION_STRING, "dicom:// read: address of the C-MOVE listener", NULL},
    {"tls", IMD_OPTION_BOOL, "dicom://: TLS (PS3.15 B.12, BCP 195)", NULL},
    {"tls_cert", IMD_OPTION_STRING, "dicom://: our TLS certificate (PEM)", NULL},
    {"tls_key", IMD_OPTION_STRING, "dicom://: the private key of tls_cert (PEM)", NULL},
    {"tls_ca", IMD_OPTION_STRING, "dicom://: trusted CA certificates (PEM)", NULL},
    {"tls_verify", IMD_OPTION_BOOL, "dicom://: verify the peer's certificate [true]", NULL},
    {NULL, 0, NULL, NULL},
};

/*
 * One store serves reading and writing (the CLIs pass the same one to both),
 * so every registered format is in play, not only the one that reads.
 * Components of the input order name what they read (ti=InversionTime):
 * those of option "input_order" and, when writing, of the series' order.
 */
bool imd__check_options(ImdError **error, const ImdContext *context, const ImdOptions *options,
                          const char *series_order)
{
    /* A descriptor built before ImdFormatPlugin.options existed declares nothing. */
    const size_t with_table = offsetof(ImdFormatPlugin, options) + sizeof(void *);
    const size_t formats = imd_context_format_count(context);
    if (!imd_options_check(error, options, pipeline_options)) {
        return false;
    }
    for (size_t f = 0; f < formats; f++) {
        const ImdFormatPlugin *format = imd_context_format(context, f);
        if (format->struct_size >= with_table &&
            !imd_options_check(error, options, format->options)) {
            return false;
        }
    }
    /* Both orders are well-formed here (input_order's type was checked above,
     * a series keeps only valid orders), so a failure only leaves them empty. */
    ImdInputOrder given, written;
    (void)imd__input_order_from_options(NULL, options, &given);
    (void)imd__input_order_parse(NULL, series_order != NULL ? series_order : "none", &written);
    bool ok = true;
    for (size_t i = 0; ok && i < imd_options_count(options); i++) {
        const char *key = imd_options_key(options, i);
        bool known = imd_option_spec_find(pipeline_options, key) != NULL ||
                     imd__input_order_find(&given, key) >= 0 ||
                     imd__input_order_find(&written, key) >= 0;
        for (size_t f = 0; !known && f < formats; f++) {
            const ImdFormatPlugin *format = imd_context_format(context, f);
            known = format->struct_size >= with_table &&
                    imd_option_spec_find(format->options, key) != NULL;
        }
        if (!known) {
            ImdText names = {0};
            for (size_t f = 0; f < formats; f++) {
                imd__text_printf(&names, "%s%s", f > 0 ? ", " : "",
                                 imd_context_format(context, f)->name);
            }
            char *listed = imd__text_finish(NULL, &names);
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "option \"%s\" (value \"%s\") is unknown: neither the pipeline nor a "
                          "format (%s) reads it, and the input order has no such component",
                          key, imd_options_value(options, i),
                          listed != NULL && listed[0] != '\0' ? listed : "none registered");
            free(listed);
            ok = false;
        }
    }
    imd__input_order_clear(&given);
    imd__input_order_clear(&written);
    return ok;
}

