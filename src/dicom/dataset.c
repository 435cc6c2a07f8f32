/*
 * dataset.c: DICOM data sets: the shared source buffer, the sorted element
 * store, access (text decoded to UTF-8, numbers), and building.
 */
#include "dicom/dicom_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#define MAX_WARNINGS 200

/* ---- the shared buffer ---- */

ImdDicomBuffer *imd__dicom_buffer_create(ImdError **error, uint8_t *data, size_t size,
                                         void (*release)(void *data, void *user), void *user)
{
    ImdDicomBuffer *buffer = imd__malloc(error, sizeof *buffer);
    if (buffer == NULL) {
        return NULL;
    }
    atomic_init(&buffer->references, 1);
    buffer->data = data;
    buffer->size = size;
    buffer->release = release;
    buffer->user = user;
    return buffer;
}

ImdDicomBuffer *imd__dicom_buffer_retain(ImdDicomBuffer *buffer)
{
    if (buffer != NULL) {
        atomic_fetch_add(&buffer->references, 1);
    }
    return buffer;
}

void imd__dicom_buffer_release(ImdDicomBuffer *buffer)
{
    if (buffer == NULL || atomic_fetch_sub(&buffer->references, 1) != 1) {
        return;
    }
    if (buffer->release != NULL) {
        buffer->release(buffer->data, buffer->user);
    } else {
        free(buffer->data);
    }
    free(buffer);
}

/* ---- data sets ---- */

ImdDicomDataSet *imd_dicom_dataset_create(ImdError **error)
{
    return imd__calloc(error, 1, sizeof(ImdDicomDataSet));
}

void imd__dicom_element_free(ImdDicomElement *element)
{
    if (element->owned) {
        free((void *)(uintptr_t)element->value);
    }
    for (size_t i = 0; i < element->item_count; i++) {
        imd_dicom_dataset_destroy(element->items[i]);
    }
    free(element->items);
    free(element->fragments);
    memset(element, 0, sizeof *element);
}

void imd_dicom_dataset_destroy(ImdDicomDataSet *dataset)
{
    if (dataset == NULL) {
        return;
    }
    for (size_t i = 0; i < dataset->count; i++) {
        imd__dicom_element_free(&dataset->elements[i]);
    }
    free(dataset->elements);
    imd_dicom_dataset_destroy(dataset->meta);
    for (size_t i = 0; i < dataset->warning_count; i++) {
        free(dataset->warnings[i]);
    }
    free(dataset->warnings);
    imd__dicom_buffer_release(dataset->buffer);
    free(dataset);
}

static bool clone_element(ImdError **error, const ImdDicomElement *from, ImdDicomElement *to,
                          const ImdDicomDataSet *parent);

static ImdDicomDataSet *clone_dataset(ImdError **error, const ImdDicomDataSet *dataset,
                                      const ImdDicomDataSet *parent)
{
    ImdDicomDataSet *copy = imd_dicom_dataset_create(error);
    if (copy == NULL) {
        return NULL;
    }
    copy->parent = parent;
    copy->buffer = imd__dicom_buffer_retain(dataset->buffer);
    memcpy(copy->transfer_syntax, dataset->transfer_syntax, sizeof copy->transfer_syntax);
    bool ok = dataset->count == 0 ||
              imd__grow(error, (void **)&copy->elements, &copy->capacity, dataset->count,
                        sizeof(ImdDicomElement));
    for (size_t i = 0; ok && i < dataset->count; i++) {
        ok = clone_element(error, &dataset->elements[i], &copy->elements[i], copy);
        copy->count += ok;
    }
    if (ok && dataset->meta != NULL) {
        copy->meta = clone_dataset(error, dataset->meta, NULL);
        ok = copy->meta != NULL;
    }
    if (!ok) {
        imd_dicom_dataset_destroy(copy);
        return NULL;
    }
    return copy;
}

static bool clone_element(ImdError **error, const ImdDicomElement *from, ImdDicomElement *to,
                          const ImdDicomDataSet *parent)
{
    *to = *from;
    to->items = NULL;
    to->item_count = 0;
    to->fragments = NULL;
    if (from->owned && from->value != NULL) {
        uint8_t *value = imd__malloc(error, from->size);
        if (value == NULL) {
            to->owned = false;
            to->value = NULL;
            return false;
        }
        memcpy(value, from->value, from->size);
        to->value = value;
    }
    if (from->fragment_count > 0) {
        to->fragments = imd__calloc(error, from->fragment_count, sizeof(ImdDicomFragment));
        if (to->fragments == NULL) {
            to->fragment_count = 0;
            return false;
        }
        memcpy(to->fragments, from->fragments, from->fragment_count * sizeof(ImdDicomFragment));
        if (from->owned && from->value != NULL) {
            /* Encapsulated pixel data we built (encode.c) keeps its fragments in its own
             * value: the copy's fragments point into the copy's value. */
            for (size_t i = 0; i < from->fragment_count; i++) {
                if (from->fragments[i].data != NULL) {
                    to->fragments[i].data = to->value + (from->fragments[i].data - from->value);
                }
            }
        }
    }
    if (from->item_count > 0) {
        to->items = imd__calloc(error, from->item_count, sizeof(ImdDicomDataSet *));
        if (to->items == NULL) {
            return false;
        }
        for (size_t i = 0; i < from->item_count; i++) {
            to->items[i] = clone_dataset(error, from->items[i], parent);
            if (to->items[i] == NULL) {
                return false;
            }
            to->item_count++;
        }
    }
    return true;
}

ImdDicomDataSet *imd_dicom_dataset_clone(ImdError **error, const ImdDicomDataSet *dataset)
{
    if (dataset == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_dicom_dataset_clone: no data set");
        return NULL;
    }
    return clone_dataset(error, dataset, NULL);
}

/* Index of the first element with a tag >= `tag`. */
static size_t lower_bound(const ImdDicomDataSet *dataset, uint32_t tag)
{
    size_t low = 0, high = dataset->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (dataset->elements[middle].tag < tag) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low;
}

uint16_t imd__dicom_private_block(const ImdDicomDataSet *dataset, uint16_t group,
                                  const char *creator)
{
    /* Only the creator elements present are decoded: (gggg,0010) to (gggg,00FF). */
    for (size_t i = lower_bound(dataset, IMD_TAG(group, 0x0010));
         i < dataset->count && dataset->elements[i].tag <= IMD_TAG(group, 0x00ff); i++) {
        char *text = imd_dicom_element_string(NULL, dataset, &dataset->elements[i]);
        bool match = text != NULL && strcmp(text, creator) == 0;
        free(text);
        if (match) {
            return (uint16_t)(IMD_TAG_ELEMENT(dataset->elements[i].tag) << 8);
        }
    }
    return dataset->fallback != NULL ? imd__dicom_private_block(dataset->fallback, group, creator)
                                     : 0;
}

uint16_t imd__dicom_private_block_of(const ImdDicomDataSet *dataset, ImdPrivateTag tag)
{
    return imd__dicom_private_block(dataset, tag.group, tag.creator);
}

uint32_t imd__dicom_private_tag(const ImdDicomDataSet *dataset, ImdPrivateTag tag)
{
    uint16_t block = imd__dicom_private_block(dataset, tag.group, tag.creator);
    return block != 0 ? imd__private_tag_at(tag, block) : 0;
}

/* An element of the data set itself (not of its fallback): what may be changed. */
static ImdDicomElement *own_element(ImdDicomDataSet *dataset, uint32_t tag)
{
    size_t at = lower_bound(dataset, tag);
    return at < dataset->count && dataset->elements[at].tag == tag ? &dataset->elements[at] : NULL;
}

bool imd__dicom_dataset_put(ImdError **error, ImdDicomDataSet *dataset, ImdDicomElement *element)
{
    size_t at = lower_bound(dataset, element->tag);
    if (at < dataset->count && dataset->elements[at].tag == element->tag) {
        imd__dicom_element_free(&dataset->elements[at]);
        dataset->elements[at] = *element;
        return true;
    }
    if (!imd__grow(error, (void **)&dataset->elements, &dataset->capacity, dataset->count + 1,
                   sizeof(ImdDicomElement))) {
        return false;
    }
    memmove(dataset->elements + at + 1, dataset->elements + at,
            (dataset->count - at) * sizeof(ImdDicomElement));
    dataset->elements[at] = *element;
    dataset->count++;
    return true;
}

bool imd__dicom_dataset_append(ImdError **error, ImdDicomDataSet *dataset,
                               ImdDicomElement *element)
{
    if (!imd__grow(error, (void **)&dataset->elements, &dataset->capacity, dataset->count + 1,
                   sizeof(ImdDicomElement))) {
        return false;
    }
    dataset->elements[dataset->count++] = *element;
    return true;
}

/*
 * Restore ascending order after parsing. Files are nearly always in order
 * (PS3.5 §7.1 requires it), so an insertion sort is linear in practice. Of
 * duplicate tags the last one is kept, as pydicom does.
 */
void imd__dicom_dataset_sort(ImdDicomDataSet *dataset)
{
    ImdDicomElement *e = dataset->elements;
    for (size_t i = 1; i < dataset->count; i++) {
        if (e[i - 1].tag < e[i].tag) {
            continue;
        }
        ImdDicomElement moving = e[i];
        size_t j = i;
        while (j > 0 && e[j - 1].tag > moving.tag) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = moving;
    }
    size_t kept = 0;
    for (size_t i = 0; i < dataset->count; i++) {
        if (kept > 0 && e[kept - 1].tag == e[i].tag) {
            imd__dicom_element_free(&e[kept - 1]);
            e[kept - 1] = e[i];
            continue;
        }
        e[kept++] = e[i];
    }
    dataset->count = kept;
}

void imd__dicom_warn(ImdDicomDataSet *top, const char *format, ...)
{
    if (top == NULL || top->warning_count >= MAX_WARNINGS) {
        return;
    }
    va_list args;
    va_start(args, format);
    char *message = imd__vsprintf(NULL, format, args);
    va_end(args);
    if (message == NULL ||
        !imd__grow(NULL, (void **)&top->warnings, &top->warning_capacity,
                   top->warning_count + 1, sizeof(char *))) {
        free(message);
        return;
    }
    top->warnings[top->warning_count++] = message;
}

const ImdDicomDataSet *imd_dicom_dataset_file_meta(const ImdDicomDataSet *dataset)
{
    return dataset != NULL ? dataset->meta : NULL;
}

const char *imd_dicom_dataset_transfer_syntax(const ImdDicomDataSet *dataset)
{
    return dataset != NULL ? dataset->transfer_syntax : "";
}

size_t imd_dicom_dataset_warning_count(const ImdDicomDataSet *dataset)
{
    return dataset != NULL ? dataset->warning_count : 0;
}

const char *imd_dicom_dataset_warning(const ImdDicomDataSet *dataset, size_t index)
{
    return dataset != NULL && index < dataset->warning_count ? dataset->warnings[index] : NULL;
}

size_t imd_dicom_dataset_count(const ImdDicomDataSet *dataset)
{
    return dataset != NULL ? dataset->count : 0;
}

const ImdDicomElement *imd_dicom_dataset_element(const ImdDicomDataSet *dataset, size_t index)
{
    return dataset != NULL && index < dataset->count ? &dataset->elements[index] : NULL;
}

const ImdDicomElement *imd_dicom_dataset_find(const ImdDicomDataSet *dataset, uint32_t tag)
{
    if (dataset == NULL) {
        return NULL;
    }
    size_t at = lower_bound(dataset, tag);
    if (at < dataset->count && dataset->elements[at].tag == tag) {
        return &dataset->elements[at];
    }
    return dataset->fallback != NULL ? imd_dicom_dataset_find(dataset->fallback, tag) : NULL;
}

void imd__dicom_dataset_set_fallback(ImdDicomDataSet *view, const ImdDicomDataSet *fallback)
{
    if (view != NULL) {
        view->fallback = fallback;
    }
}

const ImdDicomElement *imd__dicom_charset_element(const ImdDicomDataSet *dataset)
{
    for (const ImdDicomDataSet *d = dataset; d != NULL; d = d->parent) {
        const ImdDicomElement *element = imd_dicom_dataset_find(d, IMD_TAG_SpecificCharacterSet);
        if (element != NULL) {
            return element;
        }
    }
    return NULL;
}

/* ---- elements ---- */

uint32_t imd_dicom_element_tag(const ImdDicomElement *element)
{
    return element->tag;
}

ImdVR imd_dicom_element_vr(const ImdDicomElement *element)
{
    return element->vr;
}

const uint8_t *imd_dicom_element_bytes(const ImdDicomElement *element, size_t *size)
{
    *size = element->value != NULL ? element->size : 0;
    return *size > 0 ? element->value : NULL;
}

bool imd_dicom_element_is_encapsulated(const ImdDicomElement *element)
{
    return element->encapsulated;
}

size_t imd_dicom_element_item_count(const ImdDicomElement *element)
{
    return element->item_count;
}

const ImdDicomDataSet *imd_dicom_element_item(const ImdDicomElement *element, size_t index)
{
    return index < element->item_count ? element->items[index] : NULL;
}

const uint8_t *imd_dicom_element_offset_table(const ImdDicomElement *element, size_t *size)
{
    *size = element->fragment_count > 0 ? element->fragments[0].size : 0;
    return *size > 0 ? element->fragments[0].data : NULL;
}

size_t imd_dicom_element_fragment_count(const ImdDicomElement *element)
{
    return element->fragment_count > 0 ? element->fragment_count - 1 : 0;
}

const uint8_t *imd_dicom_element_fragment(const ImdDicomElement *element, size_t index,
                                          size_t *size)
{
    if (index + 1 >= element->fragment_count) {
        *size = 0;
        return NULL;
    }
    *size = element->fragments[index + 1].size;
    return element->fragments[index + 1].data;
}

/* LT ST UT UR hold one value in which '\' is text (PS3.5 §6.4). */
static bool single_valued(ImdVR vr)
{
    return vr == IMD_VR_LT || vr == IMD_VR_ST || vr == IMD_VR_UT || vr == IMD_VR_UR;
}

size_t imd_dicom_element_vm(const ImdDicomElement *element)
{
    if (element->vr == IMD_VR_SQ) {
        return element->item_count;
    }
    if (element->value == NULL || element->size == 0) {
        return element->encapsulated ? 1 : 0;
    }
    if (imd_dicom_vr_is_text(element->vr)) {
        if (single_valued(element->vr)) {
            return 1;
        }
        size_t count = 1;
        for (size_t i = 0; i < element->size; i++) {
            count += element->value[i] == '\\';
        }
        return count;
    }
    switch (element->vr) {
    case IMD_VR_OB: case IMD_VR_OW: case IMD_VR_OD: case IMD_VR_OF: case IMD_VR_OL:
    case IMD_VR_OV: case IMD_VR_UN: case IMD_VR_OB_OW: case IMD_VR_US_SS_OW:
        return 1;
    default:
        return element->size / imd__dicom_vr_unit(element->vr);
    }
}

/* Remove insignificant padding from one value, by VR (PS3.5 Table 6.2-1). */
static void trim_value(ImdVR vr, const char **start, size_t *length)
{
    const char *s = *start;
    size_t n = *length;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0')) {
        n--;
    }
    bool leading = vr == IMD_VR_AE || vr == IMD_VR_CS || vr == IMD_VR_DS || vr == IMD_VR_IS ||
                   vr == IMD_VR_DA || vr == IMD_VR_TM || vr == IMD_VR_DT || vr == IMD_VR_AS ||
                   vr == IMD_VR_UI;
    while (leading && n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    *start = s;
    *length = n;
}

/* Trim each '\'-separated value of decoded text in place. */
static void trim_values(ImdVR vr, char *text)
{
    if (single_valued(vr)) {
        const char *start = text;
        size_t length = strlen(text);
        /* Only trailing spaces are insignificant in LT, ST, UT (PS3.5 §6.2). */
        while (length > 0 && (start[length - 1] == ' ' || start[length - 1] == '\0')) {
            length--;
        }
        text[length] = '\0';
        return;
    }
    char *out = text;
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, '\\');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *start = p;
        trim_value(vr, &start, &length);
        memmove(out, start, length);
        out += length;
        if (end == NULL) {
            break;
        }
        *out++ = '\\';
        p = end + 1;
    }
    *out = '\0';
}

char *imd_dicom_element_string(ImdError **error, const ImdDicomDataSet *dataset,
                               const ImdDicomElement *element)
{
    if (!imd_dicom_vr_is_text(element->vr)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): VR %s is not text",
                      IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag),
                      imd_dicom_vr_name(element->vr));
        return NULL;
    }
    char *charsets = NULL;
    const ImdDicomElement *charset = imd__dicom_charset_element(dataset);
    if (charset != NULL && charset != element && charset->value != NULL) {
        charsets = imd__strndup(error, (const char *)charset->value, charset->size);
        if (charsets == NULL) {
            return NULL;
        }
    }
    char *text = imd__dicom_decode_text(error, element->value, element->value ? element->size : 0,
                                        charsets, element->vr, NULL);
    free(charsets);
    if (text != NULL) {
        trim_values(element->vr, text);
    }
    return text;
}

/* ---- numbers ---- */

static bool text_value(ImdError **error, const ImdDicomElement *element, size_t index,
                       char *out, size_t capacity)
{
    /* An empty value has no bytes (NULL): "" so that p + start stays defined (C11 6.5.6). */
    const char *p = element->value != NULL ? (const char *)element->value : "";
    size_t size = element->value != NULL ? element->size : 0, at = 0, start = 0, which = 0;
    for (; at <= size; at++) {
        if (at == size || p[at] == '\\') {
            if (which++ == index) {
                break;
            }
            start = at + 1;
        }
    }
    if (at > size || which <= index) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): no value %zu",
                      IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), index);
        return false;
    }
    const char *value = p + start;
    size_t length = at - start;
    trim_value(element->vr, &value, &length);
    if (length == 0 || length >= capacity) {
        imd_error_set(error, IMD_ERR_CORRUPT, "(%04X,%04X): value %zu is %s",
                      IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), index,
                      length == 0 ? "empty" : "too long for a number");
        return false;
    }
    memcpy(out, value, length);
    out[length] = '\0';
    return true;
}

static bool binary_value(ImdError **error, const ImdDicomElement *element, size_t index,
                         double *number, int64_t *integer)
{
    size_t unit = imd__dicom_vr_unit(element->vr);
    if (element->value == NULL || unit == 0 || index >= element->size / unit) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): no value %zu",
                      IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), index);
        return false;
    }
    const uint8_t *p = element->value + index * unit;
    uint64_t bits = 0;
    for (size_t i = 0; i < unit; i++) {
        bits |= (uint64_t)p[i] << (8 * i);
    }
    switch (element->vr) {
    case IMD_VR_SS: *integer = (int16_t)bits; break;
    case IMD_VR_SL: *integer = (int32_t)bits; break;
    case IMD_VR_SV: *integer = (int64_t)bits; break;
    case IMD_VR_AT: *integer = (int64_t)(((bits & 0xffff) << 16) | (bits >> 16)); break;
    case IMD_VR_FL: case IMD_VR_OF: {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        *number = f;
        *integer = 0;
        return true;
    }
    case IMD_VR_FD: case IMD_VR_OD:
        memcpy(number, &bits, sizeof *number);
        *integer = 0;
        return true;
    default:
        if (bits > (uint64_t)INT64_MAX) {
            *number = (double)bits;
            *integer = INT64_MAX;
            return true;
        }
        *integer = (int64_t)bits;
        break;
    }
    *number = (double)*integer;
    return true;
}

bool imd_dicom_element_number(ImdError **error, const ImdDicomElement *element, size_t index,
                              double *value)
{
    if (element->vr == IMD_VR_DS || element->vr == IMD_VR_IS) {
        char text[72], *end;
        if (!text_value(error, element, index, text, sizeof text)) {
            return false;
        }
        errno = 0;
        *value = strtod(text, &end);
        if (*end != '\0' || end == text) {
            imd_error_set(error, IMD_ERR_CORRUPT, "(%04X,%04X): \"%s\" is not a number",
                          IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), text);
            return false;
        }
        return true;
    }
    int64_t integer;
    return binary_value(error, element, index, value, &integer);
}

bool imd_dicom_element_int(ImdError **error, const ImdDicomElement *element, size_t index,
                           int64_t *value)
{
    double number;
    if (element->vr == IMD_VR_IS) {
        char text[72], *end;
        if (!text_value(error, element, index, text, sizeof text)) {
            return false;
        }
        errno = 0;
        long long parsed = strtoll(text, &end, 10);
        if (*end != '\0' || end == text || errno == ERANGE) {
            imd_error_set(error, IMD_ERR_CORRUPT, "(%04X,%04X): \"%s\" is not an integer",
                          IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), text);
            return false;
        }
        *value = parsed;
        return true;
    }
    if (element->vr == IMD_VR_DS || element->vr == IMD_VR_FL || element->vr == IMD_VR_FD ||
        element->vr == IMD_VR_OF || element->vr == IMD_VR_OD) {
        if (!imd_dicom_element_number(error, element, index, &number)) {
            return false;
        }
        if (!(number >= -9.2e18 && number <= 9.2e18)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "(%04X,%04X): %g is out of integer range",
                          IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), number);
            return false;
        }
        *value = (int64_t)number;
        return true;
    }
    return binary_value(error, element, index, &number, value);
}

/* ---- building ---- */

static bool check_build(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag, ImdVR *vr)
{
    if (dataset == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no data set");
        return false;
    }
    if (*vr == 0) {
        *vr = imd_dicom_dictionary_vr(tag);
    }
    if (imd_dicom_vr_name(*vr) == NULL || *vr == IMD_VR_NONE || *vr == IMD_VR_SQ ||
        IMD_TAG_GROUP(tag) == IMD_GROUP_ITEMS) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): cannot set a value of VR %s",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag),
                      imd_dicom_vr_name(*vr) ? imd_dicom_vr_name(*vr) : "?");
        return false;
    }
    return true;
}

static bool put_value(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag, ImdVR vr,
                      const void *data, size_t size)
{
    uint8_t *copy = NULL;
    if (size > 0) {
        copy = imd__malloc(error, size);
        if (copy == NULL) {
            return false;
        }
        memcpy(copy, data, size);
    }
    ImdDicomElement element = {.tag = tag, .vr = vr, .value = copy, .size = size, .owned = true};
    if (!imd__dicom_dataset_put(error, dataset, &element)) {
        free(copy);
        return false;
    }
    return true;
}

static bool is_ascii(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p >= 0x80) {
            return false;
        }
    }
    return true;
}

/* The VRs whose values Specific Character Set governs (PS3.5 §6.1.2.3). */
static bool charset_vr(ImdVR vr)
{
    return vr == IMD_VR_SH || vr == IMD_VR_LO || vr == IMD_VR_UC || vr == IMD_VR_ST ||
           vr == IMD_VR_LT || vr == IMD_VR_UT || vr == IMD_VR_PN;
}

static bool bytes_ascii(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x80 || p[i] == 0x1b) { /* ESC: ISO 2022 code extensions */
            return false;
        }
    }
    return true;
}

/* An element's value replaced by `text` (taken), padded to even length with a space. */
static bool replace_text(ImdError **error, ImdDicomElement *element, char *text)
{
    size_t length = strlen(text);
    if (length % 2 != 0) {
        char *padded = imd__realloc(error, text, length + 2);
        if (padded == NULL) {
            free(text);
            return false;
        }
        text = padded;
        text[length++] = ' ';
        text[length] = '\0';
    }
    if (element->owned) {
        free((void *)(uintptr_t)element->value);
    }
    element->value = (const uint8_t *)text;
    element->size = length;
    element->owned = true;
    return true;
}

/*
 * Every text value of `dataset` (and its items) decoded from `charsets` (the
 * Specific Character Set in force) into UTF-8; items' own (0008,0005) go, as
 * the root's ISO_IR 192 will govern them.
 */
static bool transcode_to_utf8(ImdError **error, ImdDicomDataSet *dataset, const char *charsets)
{
    for (size_t i = 0; i < dataset->count; i++) {
        ImdDicomElement *e = &dataset->elements[i];
        for (size_t k = 0; k < e->item_count; k++) {
            ImdDicomDataSet *item = e->items[k];
            const ImdDicomElement *own = imd_dicom_dataset_find(item, IMD_TAG_SpecificCharacterSet);
            char *item_sets = own != NULL && own->value != NULL
                                  ? imd__strndup(error, (const char *)own->value, own->size)
                                  : NULL;
            bool ok = (own == NULL || own->value == NULL || item_sets != NULL) &&
                      transcode_to_utf8(error, item, item_sets != NULL ? item_sets : charsets);
            free(item_sets);
            if (!ok) {
                return false;
            }
            (void)imd_dicom_dataset_remove(item, IMD_TAG_SpecificCharacterSet);
        }
        if (!charset_vr(e->vr) || e->value == NULL || bytes_ascii(e->value, e->size)) {
            continue;
        }
        char *text = imd__dicom_decode_text(error, e->value, e->size, charsets, e->vr, NULL);
        if (text == NULL || !replace_text(error, e, text)) {
            return false;
        }
    }
    return true;
}

/*
 * Non-ASCII text is stored as UTF-8 under Specific Character Set ISO_IR 192:
 * a data set in another character set has every text value transcoded to
 * UTF-8 first (PS3.5 §6.1.2.3), so that a changed value can be written into
 * a Latin-1 or Japanese template without losing the others.
 */
static bool allow_utf8(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag)
{
    const ImdDicomElement *charset = imd__dicom_charset_element(dataset);
    if (charset == NULL) {
        return put_value(error, dataset, IMD_TAG_SpecificCharacterSet, IMD_VR_CS,
                         "ISO_IR 192", 10);
    }
    char *value = imd__strndup(error, charset->value ? (const char *)charset->value : "",
                               charset->value ? charset->size : 0);
    if (value == NULL) {
        return false;
    }
    const char *start = value;
    size_t length = strlen(value);
    trim_value(IMD_VR_CS, &start, &length);
    bool utf8 = length == 10 && memcmp(start, "ISO_IR 192", 10) == 0;
    bool ok = utf8;
    if (!utf8 && dataset->parent != NULL) {
        /* An item cannot change its root's character set. */
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "(%04X,%04X): non-ASCII text in a sequence item whose character set is "
                      "not ISO_IR 192", IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag));
    } else if (!utf8) {
        ok = transcode_to_utf8(error, dataset, value) &&
             put_value(error, dataset, IMD_TAG_SpecificCharacterSet, IMD_VR_CS, "ISO_IR 192",
                       10);
    }
    free(value);
    return ok;
}

bool imd_dicom_dataset_set_string(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag,
                                  ImdVR vr, const char *value)
{
    if (!check_build(error, dataset, tag, &vr)) {
        return false;
    }
    if (!imd_dicom_vr_is_text(vr) || value == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): VR %s does not hold text",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), imd_dicom_vr_name(vr));
        return false;
    }
    if (!is_ascii(value) && !allow_utf8(error, dataset, tag)) {
        return false;
    }
    return put_value(error, dataset, tag, vr, value, strlen(value));
}

/* A DS value in at most 16 characters (PS3.5 Table 6.2-1), as precise as fits. */
static bool format_ds(double value, char out[17])
{
    if (!isfinite(value)) {
        return false;
    }
    for (int precision = 16; precision > 0; precision--) {
        int n = snprintf(out, 17, "%.*g", precision, value);
        if (n > 0 && n <= 16) {
            return true;
        }
    }
    return false;
}

static bool append_text_number(ImdError **error, ImdText *text, ImdVR vr, double value,
                               uint32_t tag)
{
    char buffer[32];
    if (vr == IMD_VR_DS) {
        if (!format_ds(value, buffer)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): %g cannot be a DS",
                          IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), value);
            return false;
        }
    } else {
        if (!(value >= -2147483648.0 && value <= 2147483647.0) || value != floor(value)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): %g cannot be an IS",
                          IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), value);
            return false;
        }
        (void)snprintf(buffer, sizeof buffer, "%.0f", value);
    }
    imd__text_puts(text, buffer);
    return true;
}

static bool pack_binary(ImdError **error, ImdVR vr, double value, uint8_t *out, uint32_t tag)
{
    uint64_t bits;
    switch (vr) {
    case IMD_VR_FL: case IMD_VR_OF: {
        float f = (float)value;
        uint32_t b32;
        memcpy(&b32, &f, sizeof b32);
        bits = b32;
        break;
    }
    case IMD_VR_FD: case IMD_VR_OD:
        memcpy(&bits, &value, sizeof bits);
        break;
    default: {
        bool is_signed = vr == IMD_VR_SS || vr == IMD_VR_SL || vr == IMD_VR_SV;
        size_t unit = imd__dicom_vr_unit(vr);
        double low = is_signed ? -ldexp(1, (int)(8 * unit - 1)) : 0;
        double high = is_signed ? ldexp(1, (int)(8 * unit - 1)) : ldexp(1, (int)(8 * unit));
        if (!(value >= low && value < high) || value != floor(value)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): %g does not fit VR %s",
                          IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), value,
                          imd_dicom_vr_name(vr));
            return false;
        }
        bits = is_signed ? (uint64_t)(int64_t)value : (uint64_t)value;
        break;
    }
    }
    for (size_t i = 0; i < imd__dicom_vr_unit(vr); i++) {
        out[i] = (uint8_t)(bits >> (8 * i));
    }
    return true;
}

bool imd_dicom_dataset_set_numbers(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag,
                                   ImdVR vr, const double *values, size_t count)
{
    if (!check_build(error, dataset, tag, &vr)) {
        return false;
    }
    if (vr == IMD_VR_US_SS) {
        vr = IMD_VR_US;
    }
    if (vr == IMD_VR_DS || vr == IMD_VR_IS) {
        ImdText text = {0};
        for (size_t i = 0; i < count; i++) {
            imd__text_puts(&text, i > 0 ? "\\" : "");
            if (!append_text_number(error, &text, vr, values[i], tag)) {
                imd__text_free(&text);
                return false;
            }
        }
        char *joined = imd__text_finish(error, &text);
        bool ok = joined != NULL && put_value(error, dataset, tag, vr, joined, strlen(joined));
        free(joined);
        return ok;
    }
    static const ImdVR binary[] = {IMD_VR_US, IMD_VR_SS, IMD_VR_UL, IMD_VR_SL, IMD_VR_FL,
                                   IMD_VR_FD, IMD_VR_SV, IMD_VR_UV, IMD_VR_OF, IMD_VR_OD};
    bool known = false;
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
        known = known || binary[i] == vr;
    }
    size_t unit = imd__dicom_vr_unit(vr), size;
    if (!known || !imd__mul_size(count, unit, &size)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): VR %s does not hold numbers",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), imd_dicom_vr_name(vr));
        return false;
    }
    uint8_t *packed = imd__malloc(error, size);
    bool ok = packed != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        ok = pack_binary(error, vr, values[i], packed + i * unit, tag);
    }
    ok = ok && put_value(error, dataset, tag, vr, packed, size);
    free(packed);
    return ok;
}

bool imd_dicom_dataset_set_bytes(ImdError **error, ImdDicomDataSet *dataset, uint32_t tag,
                                 ImdVR vr, const void *data, size_t size)
{
    if (!check_build(error, dataset, tag, &vr)) {
        return false;
    }
    if (size > 0xfffffffeu || (size > 0 && data == NULL)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): %zu bytes cannot be a value",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), size);
        return false;
    }
    return put_value(error, dataset, tag, vr, data, size);
}

bool imd_dicom_dataset_remove(ImdDicomDataSet *dataset, uint32_t tag)
{
    if (dataset == NULL) {
        return false;
    }
    size_t at = lower_bound(dataset, tag);
    if (at >= dataset->count || dataset->elements[at].tag != tag) {
        return false;
    }
    imd__dicom_element_free(&dataset->elements[at]);
    memmove(dataset->elements + at, dataset->elements + at + 1,
            (dataset->count - at - 1) * sizeof(ImdDicomElement));
    dataset->count--;
    return true;
}

ImdDicomDataSet *imd_dicom_dataset_append_item(ImdError **error, ImdDicomDataSet *dataset,
                                               uint32_t tag)
{
    if (dataset == NULL || IMD_TAG_GROUP(tag) == IMD_GROUP_ITEMS) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): cannot hold items",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag));
        return NULL;
    }
    ImdDicomElement *element = own_element(dataset, tag);
    if (element == NULL) {
        ImdDicomElement sequence = {.tag = tag, .vr = IMD_VR_SQ};
        if (!imd__dicom_dataset_put(error, dataset, &sequence)) {
            return NULL;
        }
        element = own_element(dataset, tag);
    } else if (element->vr != IMD_VR_SQ) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "(%04X,%04X): VR %s is not a sequence",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), imd_dicom_vr_name(element->vr));
        return NULL;
    }
    ImdDicomDataSet *item = imd_dicom_dataset_create(error);
    if (item == NULL) {
        return NULL;
    }
    item->parent = dataset;
    ImdDicomDataSet **items = imd__realloc(error, element->items,
                                           (element->item_count + 1) * sizeof *items);
    if (items == NULL) {
        imd_dicom_dataset_destroy(item);
        return NULL;
    }
    element->items = items;
    items[element->item_count++] = item;
    return item;
}
