/*
 * network.c: the public entry points of the DICOM network (issue 17) that
 * are not a read or a write: C-ECHO (imd_dicom_echo).
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>

bool imd_dicom_echo(ImdError **error, ImdContext *context, const char *url,
                    const ImdOptions *options, uint16_t *status)
{
    if (url == NULL || status == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "echo: no URL or status");
        return false;
    }
    ImdUrl *parsed = imd_url_parse(error, url);
    if (parsed == NULL) {
        return false;
    }
    bool ok = false;
    if (strcmp(parsed->scheme, "dicom") != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: not a dicom:// URL", url);
    } else {
        const ImdContext *saved = imd__context_enter(context);
        ok = (context == NULL || imd__check_options(error, context, options, NULL)) &&
             imd__dicom_echo(error, parsed, options, status);
        imd__context_leave(saved);
    }
    imd_url_destroy(parsed);
    return ok;
}

/* ---- listing (imd_list) ---- */

/* "20190207" -> "2019.02.07", "140417.123" -> "14:04:17": the original's forms. */
static void format_date(const char *in, char *out, size_t size)
{
    if (strlen(in) == 8) {
        snprintf(out, size, "%.4s.%.2s.%.2s", in, in + 4, in + 6);
    } else {
        snprintf(out, size, "%s", in);
    }
}

static void format_time(const char *in, char *out, size_t size)
{
    if (strlen(in) >= 6 && in[0] >= '0' && in[0] <= '9') {
        snprintf(out, size, "%.2s:%.2s:%.2s", in, in + 2, in + 4);
    } else {
        snprintf(out, size, "%s", in);
    }
}

typedef struct Lister {
    ImdListFn *fn;
    void *user;
} Lister;

/* Give an entry its one-line `info` (the same for a node and for files). */
static bool with_info(ImdError **error, void *user, const ImdListEntry *entry)
{
    Lister *lister = user;
    ImdListEntry copy = *entry;
    char *info = NULL;
    if (entry->level == IMD_LIST_PATIENT) {
        info = imd__strdup(error, entry->patient_name);
    } else if (entry->level == IMD_LIST_STUDY) {
        char date[48], time[48];
        format_date(entry->study_date, date, sizeof date);
        format_time(entry->study_time, time, sizeof time);
        info = imd__sprintf(error, "%s %s %s %s", date, time, entry->accession_number,
                            entry->study_description);
    } else {
        info = imd__sprintf(error, "#%ld: %ld %s %s", entry->series_number, entry->instances,
                            entry->modality, entry->series_description);
    }
    if (info == NULL) {
        return false;
    }
    copy.info = info;
    bool ok = lister->fn(error, lister->user, &copy);
    free(info);
    return ok;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* How many distinct SOPInstanceUIDs the series' cells hold (its files). */
static long count_instances(ImdError **error, const ImdHeader *header, bool *ok)
{
    size_t slices = imd_header_tag_slices(header), ndim = imd_header_tag_ndim(header);
    size_t cells = 1;
    for (size_t d = 0; d < ndim; d++) {
        cells *= imd_header_tag_shape(header, d);
    }
    size_t total = 0;
    *ok = imd__mul_size(slices, cells, &total);
    const char **uids = *ok && total > 0 ? imd__calloc(error, total, sizeof *uids) : NULL;
    if (total > 0 && uids == NULL) {
        *ok = false;
        return 0;
    }
    size_t n = 0;
    size_t index[IMD_MAX_TAG_DIMS] = {0};
    for (size_t s = 0; s < slices; s++) {
        for (size_t c = 0; c < cells; c++) {
            size_t rest = c;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % imd_header_tag_shape(header, d);
                rest /= imd_header_tag_shape(header, d);
            }
            const char *uid = imd_header_instance_uid(header, s, index);
            if (uid != NULL) {
                uids[n++] = uid;
            }
        }
    }
    if (n > 1) {
        qsort(uids, n, sizeof *uids, compare_text);
    }
    long distinct = 0;
    for (size_t i = 0; i < n; i++) {
        distinct += i == 0 || strcmp(uids[i], uids[i - 1]) != 0;
    }
    free(uids);
    return distinct;
}

static const char *header_text(const ImdHeader *header, const char *keyword)
{
    const char *value = imd_header_get_string(header, keyword);
    return value != NULL ? value : "";
}

/* A series of a file read, listed (headers only: no voxels were read). */
static bool list_series(ImdError **error, void *user, ImdSeries *series)
{
    const ImdHeader *header = imd_series_const_header(series);
    bool ok = true;
    long instances = count_instances(error, header, &ok);
    const char *patient = header_text(header, "PatientID");
    const char *study = header_text(header, "StudyInstanceUID");
    const char *uid = header_text(header, "SeriesInstanceUID");
    char *path = ok ? imd__sprintf(error, "%s/%s/%s", patient, study, uid) : NULL;
    if (path != NULL) {
        const char *number = header_text(header, "SeriesNumber");
        ImdListEntry entry = {IMD_LIST_SERIES,
                              path,
                              NULL,
                              patient,
                              header_text(header, "PatientName"),
                              study,
                              header_text(header, "StudyDate"),
                              header_text(header, "StudyTime"),
                              header_text(header, "AccessionNumber"),
                              header_text(header, "StudyDescription"),
                              uid,
                              header_text(header, "Modality"),
                              header_text(header, "SeriesDescription"),
                              strtol(number, NULL, 10),
                              instances};
        ok = with_info(error, user, &entry);
    }
    free(path);
    imd_series_destroy(series);
    return path != NULL && ok;
}

bool imd_list(ImdError **error, ImdContext *context, const char *const urls[], size_t url_count,
              const ImdOptions *options, ImdListFn *fn, void *user)
{
    if (urls == NULL || url_count == 0 || fn == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "list: no URL or callback");
        return false;
    }
    Lister lister = {fn, user};
    ImdUrl *parsed = imd_url_parse(error, urls[0]);
    if (parsed == NULL) {
        return false;
    }
    bool ok = false;
    if (strcmp(parsed->scheme, "dicom") == 0) {
        if (url_count != 1) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: a DICOM node is listed alone",
                          urls[0]);
        } else {
            const ImdContext *saved = imd__context_enter(context);
            ok = (context == NULL || imd__check_options(error, context, options, NULL)) &&
                 imd__dicom_list(error, parsed, options, with_info, &lister);
            imd__context_leave(saved);
        }
        imd_url_destroy(parsed);
        return ok;
    }
    imd_url_destroy(parsed);
    /* Files: read headers only and list each series the reader makes. */
    ImdOptions *own = options != NULL ? imd_options_clone(error, options)
                                      : imd_options_create(error);
    if (own == NULL || !imd_options_set(error, own, "headers_only", "true")) {
        imd_options_destroy(own);
        return false;
    }
    ImdSeriesList *failures = imd_read_each(error, context, urls, url_count, own, list_series,
                                            &lister);
    imd_options_destroy(own);
    if (failures == NULL) {
        return false;
    }
    imd_series_list_destroy(failures);
    return true;
}
