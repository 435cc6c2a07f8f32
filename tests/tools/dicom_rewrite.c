/*
 * dicom_rewrite: a test tool. Reads IN with our parser and writes it to OUT
 * with our writer, so that independent readers (dcmdump, pydicom) can check
 * what we write. --implicit writes Implicit VR Little Endian.
 */
#include <imagedata/imagedata.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    bool implicit = argc == 4 && strcmp(argv[1], "--implicit") == 0;
    if (argc != 3 && !implicit) {
        fprintf(stderr, "usage: dicom_rewrite [--implicit] IN OUT\n");
        return 1;
    }
    const char *in = argv[argc - 2], *out = argv[argc - 1];
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, in, NULL);
    ImdStream *stream = d != NULL ? imd_stream_open_file(&error, out, IMD_MODE_WRITE) : NULL;
    ImdDicomWriteOptions options = {.transfer_syntax = implicit ? IMD_UID_IMPLICIT_VR_LE : NULL};
    bool ok = stream != NULL && imd_dicom_write(&error, d, stream, &options);
    ok = stream != NULL && (ok ? imd_stream_close(&error, stream) : (imd_stream_abort(stream), false));
    imd_dicom_dataset_destroy(d);
    if (!ok) {
        fprintf(stderr, "dicom_rewrite: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 2;
    }
    return 0;
}
