/*
 * csa_dump: a test tool. Dumps Siemens CSA headers with our parser
 * (src/dicom/csa.h) as JSON, one line per input, for csa_nibabel.py to
 * compare with nibabel's csareader.
 *
 *   csa_dump FILE...           DICOM files: image and series header, and the
 *                              ImdSiemensImage summary
 *   csa_dump --raw FILE...     files that hold one CSA header each
 *   csa_dump --protocol FILE   keys on standard input, one a line: each
 *                              key's ASCCONV number and string from the
 *                              DICOM file's series header
 *
 * Texts are written byte for byte as Latin-1 code points (nibabel decodes
 * items as Latin-1), so the comparison is exact.
 */
#include "dicom/csa.h"

#include <math.h>
#include <stdio.h>

static void put_string(const char *text)
{
    if (text == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20 || *p >= 0x7f) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

static void put_number(bool present, double value)
{
    if (present && isfinite(value)) {
        printf("%.17g", value);
    } else {
        fputs("null", stdout);
    }
}

static void put_header(const ImdCsaHeader *h)
{
    printf("{\"type\":%d,\"tags\":[", imd__csa_type(h));
    for (size_t t = 0; t < imd__csa_count(h); t++) {
        ImdCsaTagInfo info;
        imd__csa_tag_info(h, t, &info);
        printf("%s{\"name\":", t > 0 ? "," : "");
        put_string(info.name);
        printf(",\"vr\":");
        put_string(info.vr);
        printf(",\"vm\":%d,\"syngodt\":%d,\"n_items\":%d,\"xx\":%d,\"read\":%zu,\"raw\":[",
               (int)info.vm, (int)info.syngodt, (int)info.declared_items, (int)info.xx,
               info.read_items);
        for (size_t i = 0; i < info.read_items; i++) {
            if (i > 0) {
                putchar(',');
            }
            put_string(imd__csa_tag_item(h, t, i));
        }
        /* The lookups by name, as the reader uses them. */
        size_t count = imd__csa_item_count(h, info.name);
        printf("],\"count\":%zu,\"strings\":[", count);
        for (size_t i = 0; i < count; i++) {
            if (i > 0) {
                putchar(',');
            }
            put_string(imd__csa_string(h, info.name, i));
        }
        printf("],\"numbers\":[");
        for (size_t i = 0; i < count; i++) {
            double value = NAN;
            bool ok = imd__csa_number(h, info.name, i, &value);
            if (i > 0) {
                putchar(',');
            }
            put_number(ok, value);
        }
        printf("]}");
    }
    printf("]}");
}

static void put_error(ImdError **error)
{
    printf("{\"error\":");
    put_string(imd_error_message(*error));
    printf(",\"code\":");
    put_string(imd_error_code_name(imd_error_code(*error)));
    putchar('}');
    imd_error_clear(error);
}

/* The header `element` (0x10 image, 0x20 series) of a data set, or null, or an error. */
static void put_dataset_header(const ImdDicomDataSet *d, uint8_t element)
{
    size_t size;
    const uint8_t *bytes = imd__siemens_csa_bytes(d, element, &size);
    if (bytes == NULL) {
        fputs("null", stdout);
        return;
    }
    ImdError *error = NULL;
    ImdCsaHeader *h = imd__csa_parse(&error, bytes, size);
    if (h == NULL) {
        put_error(&error);
        return;
    }
    put_header(h);
    imd__csa_destroy(h);
}

static void put_vector(bool present, const double *v, size_t n)
{
    if (!present) {
        fputs("null", stdout);
        return;
    }
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            putchar(',');
        }
        put_number(true, v[i]);
    }
    putchar(']');
}

static void put_summary(const ImdDicomDataSet *d)
{
    ImdError *error = NULL;
    ImdSiemensImage s;
    if (!imd__siemens_image(&error, d, &s)) {
        put_error(&error);
        return;
    }
    double normal[3] = {s.slice_normal.x, s.slice_normal.y, s.slice_normal.z};
    double direction[3] = {s.direction.x, s.direction.y, s.direction.z};
    printf("{\"mosaic_images\":%u,\"slice_normal\":", s.mosaic_images);
    put_vector(s.has_slice_normal, normal, 3);
    printf(",\"slice_times\":");
    put_vector(s.slice_time_count > 0, s.slice_times, s.slice_time_count);
    printf(",\"b_value\":");
    put_number(s.has_b_value, s.b_value);
    printf(",\"direction\":");
    put_vector(s.has_direction, direction, 3);
    printf(",\"b_matrix\":");
    put_vector(s.has_b_matrix, s.b_matrix, 6);
    printf(",\"phase_encoding_positive\":%d}", s.phase_encoding_positive);
    imd__siemens_image_free(&s);
}

static void *read_all(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = 1 << 16, used = 0;
    unsigned char *data = malloc(capacity);
    while (data != NULL) {
        used += fread(data + used, 1, capacity - used, file);
        if (used < capacity) {
            break;
        }
        unsigned char *grown = realloc(data, capacity * 2);
        if (grown == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        capacity *= 2;
    }
    bool failed = ferror(file) != 0;
    fclose(file);
    if (failed) {
        free(data);
        return NULL;
    }
    *size = used;
    return data;
}

static int dump_raw(const char *path)
{
    size_t size = 0;
    uint8_t *bytes = read_all(path, &size);
    if (bytes == NULL) {
        fprintf(stderr, "csa_dump: cannot read %s\n", path);
        return 2;
    }
    printf("{\"file\":");
    put_string(path);
    printf(",\"header\":");
    ImdError *error = NULL;
    ImdCsaHeader *h = imd__csa_parse(&error, bytes, size);
    if (h == NULL) {
        put_error(&error);
    } else {
        put_header(h);
    }
    printf("}\n");
    imd__csa_destroy(h);
    free(bytes);
    return 0;
}

static int dump_dicom(const char *path)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, path, NULL);
    if (d == NULL) {
        fprintf(stderr, "csa_dump: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 2;
    }
    printf("{\"file\":");
    put_string(path);
    printf(",\"image\":");
    put_dataset_header(d, 0x10);
    printf(",\"series\":");
    put_dataset_header(d, 0x20);
    printf(",\"summary\":");
    put_summary(d);
    printf("}\n");
    imd_dicom_dataset_destroy(d);
    return 0;
}

static int dump_protocol(const char *path)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, path, NULL);
    if (d == NULL) {
        fprintf(stderr, "csa_dump: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 2;
    }
    size_t size;
    const uint8_t *bytes = imd__siemens_csa_bytes(d, 0x20, &size);
    ImdCsaHeader *h = bytes != NULL ? imd__csa_parse(&error, bytes, size) : NULL;
    imd_error_clear(&error);
    char line[4096];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        double value = NAN;
        bool ok = imd__csa_protocol_number(h, line, &value);
        char *text = imd__csa_protocol_string(h, line);
        printf("{\"key\":");
        put_string(line);
        printf(",\"number\":");
        put_number(ok, value);
        printf(",\"string\":");
        put_string(text);
        printf("}\n");
        free(text);
    }
    imd__csa_destroy(h);
    imd_dicom_dataset_destroy(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: csa_dump [--raw] FILE... | csa_dump --protocol FILE <KEYS\n");
        return 1;
    }
    if (strcmp(argv[1], "--protocol") == 0) {
        return argc == 3 ? dump_protocol(argv[2]) : 1;
    }
    bool raw = strcmp(argv[1], "--raw") == 0;
    int status = 0;
    for (int i = raw ? 2 : 1; i < argc; i++) {
        int result = raw ? dump_raw(argv[i]) : dump_dicom(argv[i]);
        if (result != 0) {
            status = result;
        }
    }
    return status;
}
