/*
 * dicom_rewrite: a test tool. Reads IN with our parser and writes it to OUT
 * with our writer, so that independent readers (dcmdump, pydicom) can check
 * what we write. --implicit writes Implicit VR Little Endian; --set
 * KEYWORD=TEXT (repeatable) sets a text element first, through
 * imd_dicom_dataset_set_string (non-ASCII text switches the data set to
 * ISO_IR 192).
 */
#include <imagedata/imagedata.h>

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: dicom_rewrite [--implicit] [--set KEYWORD=TEXT]... IN OUT\n");
    return 1;
}

/* Apply the --set options to `d`. */
static bool set_all(ImdError **error, ImdDicomDataSet *d, int argc, char **argv)
{
    for (int i = 1; i < argc - 2; i++) {
        if (strcmp(argv[i], "--set") != 0) {
            continue;
        }
        const char *assignment = argv[++i];
        const char *equals = strchr(assignment, '=');
        char keyword[128];
        uint32_t tag = 0;
        size_t length = equals != NULL ? (size_t)(equals - assignment) : 0;
        if (length == 0 || length >= sizeof keyword) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "--set %s: KEYWORD=TEXT", assignment);
            return false;
        }
        memcpy(keyword, assignment, length);
        keyword[length] = '\0';
        if (!imd_dicom_tag(keyword, &tag)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "--set: unknown keyword %s", keyword);
            return false;
        }
        if (!imd_dicom_dataset_set_string(error, d, tag, (ImdVR)0, equals + 1)) {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        return usage();
    }
    bool implicit = false;
    for (int i = 1; i < argc - 2; i++) {
        if (strcmp(argv[i], "--implicit") == 0) {
            implicit = true;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc - 2) {
            i++;
        } else {
            return usage();
        }
    }
    const char *in = argv[argc - 2], *out = argv[argc - 1];
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, in, NULL);
    bool ok = d != NULL && set_all(&error, d, argc, argv);
    ImdStream *stream = ok ? imd_stream_open_file(&error, out, IMD_MODE_WRITE) : NULL;
    ImdDicomWriteOptions options = {.transfer_syntax = implicit ? IMD_UID_IMPLICIT_VR_LE : NULL};
    ok = stream != NULL && imd_dicom_write(&error, d, stream, &options);
    ok = stream != NULL && (ok ? imd_stream_close(&error, stream) : (imd_stream_abort(stream), false));
    imd_dicom_dataset_destroy(d);
    if (!ok) {
        fprintf(stderr, "dicom_rewrite: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 2;
    }
    return 0;
}
