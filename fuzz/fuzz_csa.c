/*
 * fuzz_csa.c: the Siemens CSA header parser (src/dicom/csa.h).
 *
 * The input is one CSA header. It is parsed, and every accessor is called on
 * every tag and item (names, infos, raw items, values as strings and
 * numbers), the ASCCONV protocol is searched for fixed keys and for every
 * tag name, and the same bytes are read as the CSA image header of a data
 * set by imd__siemens_image. Beyond "no crash" it checks the result/error
 * invariant, that errors are CORRUPT, and the value rules (counts within
 * the items read, trimmed texts, numbers only from non-empty values).
 */
#include "dicom/csa.h"

#include <math.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_csa: invariant failed: %s\n", what);
        abort();
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void check_protocol(const ImdCsaHeader *h, const char *key)
{
    double value = NAN;
    if (imd__csa_protocol_number(h, key, &value)) {
        require(!isnan(value), "protocol numbers are numbers");
    }
    char *text = imd__csa_protocol_string(h, key);
    if (text != NULL) {
        (void)strlen(text);
    }
    free(text);
}

static void check_header(const ImdCsaHeader *h)
{
    int type = imd__csa_type(h);
    require(type == 1 || type == 2, "type 1 or 2");
    size_t count = imd__csa_count(h);
    require(count >= 1 && count <= IMD_CSA_MAX_TAGS, "1 to 128 tags");
    require(imd__csa_name(h, count) == NULL, "no name past the end");
    for (size_t t = 0; t < count; t++) {
        ImdCsaTagInfo info;
        imd__csa_tag_info(h, t, &info);
        const char *name = imd__csa_name(h, t);
        require(name != NULL && name == info.name, "names");
        require(strlen(name) <= 64 && strlen(info.vr) <= 4, "fixed fields");
        require(info.declared_items >= 0 && info.read_items <= (size_t)info.declared_items,
                "items read within those declared");
        if (type == 2) {
            require(info.read_items == (size_t)info.declared_items, "CSA2 reads every item");
        }
        for (size_t i = 0; i < info.read_items; i++) {
            require(imd__csa_tag_item(h, t, i) != NULL, "raw items");
        }
        require(imd__csa_tag_item(h, t, info.read_items) == NULL, "no item past the end");
        /* Lookups by name see the last tag of that name. */
        size_t last = t;
        for (size_t u = t + 1; u < count; u++) {
            if (strcmp(imd__csa_name(h, u), name) == 0) {
                last = u;
            }
        }
        ImdCsaTagInfo last_info;
        imd__csa_tag_info(h, last, &last_info);
        size_t values = imd__csa_item_count(h, name);
        require(values <= last_info.read_items, "values within the items");
        if (last_info.vm > 0) {
            require(values <= (size_t)last_info.vm, "at most vm values");
        }
        for (size_t i = 0; i <= values; i++) {
            const char *text = imd__csa_string(h, name, i);
            double number = NAN;
            bool ok = imd__csa_number(h, name, i, &number);
            if (i == values) {
                require(text == NULL && !ok, "nothing past the values");
            }
            if (text != NULL) {
                require(text[0] != '\0' && !is_space(text[0]) &&
                            !is_space(text[strlen(text) - 1]),
                        "values are trimmed and non-empty");
            }
            require(!ok || (text != NULL && isfinite(number)), "numbers from values");
        }
        check_protocol(h, name);
    }
    static const char *const keys[] = {"sSliceArray.lSize", "sKSpace.ucMultiSliceMode",
                                       "sSliceArray.asSlice[0].sNormal.dTra", "tProtocolName",
                                       "ulVersion", ""};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        check_protocol(h, keys[k]);
    }
}

static void check_summary(const uint8_t *data, size_t size)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    if (d == NULL) {
        return;
    }
    if (imd_dicom_dataset_set_string(NULL, d, IMD_TAG(0x0029, 0x0010), IMD_VR_LO,
                                     "SIEMENS CSA HEADER") &&
        imd_dicom_dataset_set_bytes(NULL, d, IMD_TAG(0x0029, 0x1010), IMD_VR_OB, data, size)) {
        ImdError *error = NULL;
        ImdSiemensImage s;
        bool ok = imd__siemens_image(&error, d, &s);
        require(ok == (error == NULL), "summary: false exactly when an error is set");
        require(ok || imd_error_code(error) == IMD_ERR_CORRUPT ||
                    imd_error_code(error) == IMD_ERR_NOMEM,
                "summary errors are CORRUPT");
        require((s.slice_times == NULL) == (s.slice_time_count == 0), "slice times and count");
        require(s.phase_encoding_positive >= -1 && s.phase_encoding_positive <= 1,
                "phase polarity");
        imd__siemens_image_free(&s);
        imd_error_clear(&error);
    }
    imd_dicom_dataset_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ImdError *error = NULL;
    ImdCsaHeader *h = imd__csa_parse(&error, data, size);
    require((h == NULL) == (error != NULL), "result NULL exactly when an error is set");
    if (h != NULL) {
        check_header(h);
    } else {
        require(imd_error_code(error) == IMD_ERR_CORRUPT ||
                    imd_error_code(error) == IMD_ERR_NOMEM,
                "parse errors are CORRUPT");
        require(strncmp(imd_error_message(error), "CSA header: ", 12) == 0,
                "errors say what was read");
    }
    imd__csa_destroy(h);
    imd_error_clear(&error);
    if (size > 0) {
        check_summary(data, size);
    }
    return 0;
}
