/*
 * format.c: the picture format plugins "png", "jpeg" and "tiff"
 * (behaviour.md §5.3: the original's ITK plugin, and later its Pillow
 * plugin, read and wrote these; docs/formats.md).
 *
 * Reading: each file gives one page (a multi-page TIFF several). Pages of
 * one read are stacked in member order while their size and type agree:
 * one page is a 2D series, several a 3D stack (slice = page); a page of
 * another size or type starts a new series. No geometry: spacing 1, the
 * default orientation, slice s at (0, 0, s), input order "none" (as the
 * original's Pillow plugin).
 *
 * Writing: one file per slice (and tag cell), named as the original's ITK
 * and Pillow plugins name them: "Image_00000.png" ... in a folder, the
 * name itself for a 2D series, "name_00000.png" for a stack written to a
 * name with the suffix, a "{}"/"%d" pattern numbered; 4D slices vary
 * fastest unless output_sort=tag. What a format cannot hold is windowed to
 * 8 bits: the series' window (center/width, DICOM PS3.3 C.11.2.1.2.1) when
 * it has one, else its 1 % to 99 % range, the same for every file of the
 * series. PNG keeps uint8, uint16 and RGB; TIFF also int16 and float32;
 * JPEG only uint8 and RGB. Other integer types whose values all fit uint16
 * (TIFF: also int16) are written in that type without loss; bool becomes
 * 0/255. Every file is committed only when all were written.
 */
#include "formats/picture/picture.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

/* Most bytes one picture file may have. */
#define MEMBER_LIMIT ((size_t)1 << 32)
/* Values looked at for the 1-99 % range (a regular sample of larger series). */
#define RANGE_SAMPLES ((size_t)1 << 22)

/* ---- pages ---- */

bool imd__picture_pages_add(ImdError **error, ImdPicturePages *pages, ImdPicturePage page)
{
    if (pages->count >= IMD__PICTURE_MAX_PAGES * 16) {
        free(page.data);
        imd_error_set(error, IMD_ERR_LIMIT, "more than %zu pictures in one read",
                      IMD__PICTURE_MAX_PAGES * 16);
        return false;
    }
    if (!imd__grow(error, (void **)&pages->pages, &pages->capacity, pages->count + 1,
                   sizeof page)) {
        free(page.data);
        return false;
    }
    pages->pages[pages->count++] = page;
    return true;
}

void imd__picture_pages_free(ImdPicturePages *pages)
{
    for (size_t i = 0; i < pages->count; i++) {
        free(pages->pages[i].data);
    }
    free(pages->pages);
    memset(pages, 0, sizeof *pages);
}

bool imd__picture_check_size(ImdError **error, const char *name, const char *what, size_t width,
                             size_t height, size_t pixel_bytes, uint64_t raw_bytes,
                             size_t input_size, uint64_t max_ratio, size_t *bytes)
{
    if (width == 0 || height == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %s of %zu x %zu pixels", name, what, width,
                      height);
        return false;
    }
    if (width > IMD__PICTURE_MAX_SIDE || height > IMD__PICTURE_MAX_SIDE) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: %s of %zu x %zu pixels (at most %zu a side)",
                      name, what, width, height, IMD__PICTURE_MAX_SIDE);
        return false;
    }
    if (!imd__mul_size(width, height, bytes) || !imd__mul_size(*bytes, pixel_bytes, bytes)) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: %s of %zu x %zu pixels is too large", name,
                      what, width, height);
        return false;
    }
    if (raw_bytes > 0 && raw_bytes / max_ratio > input_size) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s: %zu bytes cannot hold a %s of %zu x %zu pixels (truncated, or a "
                      "decompression bomb)", name, input_size, what, width, height);
        return false;
    }
    return imd__check_alloc(error, NULL, *bytes, name);
}

/* ---- the three formats ---- */

typedef bool DecodeFn(ImdError **error, const uint8_t *bytes, size_t size, const char *name,
                      ImdPicturePages *pages);

typedef enum Kind {
    KIND_PNG,
    KIND_JPEG,
    KIND_TIFF
} Kind;

static const char *const png_suffixes[] = {".png", NULL};
static const char *const jpeg_suffixes[] = {".jpg", ".jpeg", NULL};
static const char *const tiff_suffixes[] = {".tif", ".tiff", NULL};

/* A codec left out of the build (its library missing) is not registered (registry.c). */
#ifndef IMD_WITH_PNG
#define imd__picture_png_decode NULL
#endif
#ifndef IMD_WITH_TURBOJPEG
#define imd__picture_jpeg_decode NULL
#endif
#ifndef IMD_WITH_TIFF
#define imd__picture_tiff_decode NULL
#endif

static const struct {
    const char *label;
    DecodeFn *decode;
    const char *const *suffixes; /* the first is written */
} kinds[] = {
    [KIND_PNG] = {"PNG", imd__picture_png_decode, png_suffixes},
    [KIND_JPEG] = {"JPEG", imd__picture_jpeg_decode, jpeg_suffixes},
    [KIND_TIFF] = {"TIFF", imd__picture_tiff_decode, tiff_suffixes},
};

static int png_probe(const uint8_t *head, size_t length, const char *name)
{
    IMD__UNUSED(name);
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return head != NULL && length >= 8 && memcmp(head, signature, 8) == 0 ? 95 : 0;
}

static int jpeg_probe(const uint8_t *head, size_t length, const char *name)
{
    IMD__UNUSED(name);
    /* SOI then another marker (T.81 B.1.1.3). */
    return head != NULL && length >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF
               ? 90
               : 0;
}

static int tiff_probe(const uint8_t *head, size_t length, const char *name)
{
    IMD__UNUSED(name);
    if (head == NULL || length < 4) {
        return 0;
    }
    /* Byte order, then 42 (TIFF 6.0 section 2) or 43 (BigTIFF). */
    bool little = head[0] == 'I' && head[1] == 'I' && (head[2] == 42 || head[2] == 43) &&
                  head[3] == 0;
    bool big = head[0] == 'M' && head[1] == 'M' && head[2] == 0 &&
               (head[3] == 42 || head[3] == 43);
    return little || big ? 90 : 0;
}

/* ---- reading ---- */

typedef struct Reader {
    Kind kind;
    const ImdOptions *options;
    const ImdContext *context;
    ImdPicturePages pages;
} Reader;

static void *reader_create(ImdError **error, Kind kind, const ImdOptions *options,
                           const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader != NULL) {
        reader->kind = kind;
        reader->options = options;
        reader->context = context;
    }
    return reader;
}

static void *png_reader_create(ImdError **error, const ImdOptions *options,
                               const ImdContext *context)
{
    return reader_create(error, KIND_PNG, options, context);
}

static void *jpeg_reader_create(ImdError **error, const ImdOptions *options,
                                const ImdContext *context)
{
    return reader_create(error, KIND_JPEG, options, context);
}

static void *tiff_reader_create(ImdError **error, const ImdOptions *options,
                                const ImdContext *context)
{
    return reader_create(error, KIND_TIFF, options, context);
}

static void picture_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader != NULL) {
        imd__picture_pages_free(&reader->pages);
        free(reader);
    }
}

static bool picture_reader_add(ImdError **error, void *state, ImdArchive *archive,
                               const char *name, ImdStream *stream)
{
    IMD__UNUSED(archive);
    Reader *reader = state;
    size_t size = 0;
    uint8_t *bytes = imd_stream_read_all(error, stream, MEMBER_LIMIT, &size);
    if (bytes == NULL) {
        return false; /* an empty member gives memory, not NULL: this is an error */
    }
    size_t before = reader->pages.count;
    bool ok = kinds[reader->kind].decode(error, bytes, size, name, &reader->pages);
    free(bytes);
    if (ok) {
        const ImdPicturePage *page = &reader->pages.pages[before];
        imd_context_log(reader->context, IMD_LOG_INFO, "%s: %s: %zu page(s) of %zu x %zu %s",
                        name, kinds[reader->kind].label, reader->pages.count - before,
                        page->width, page->height, imd_dtype_name(page->dtype));
    }
    return ok;
}

/* No geometry in a picture: spacing 1, slice s at (0, 0, s), one empty tag per slice. */
static bool set_plain_geometry(ImdError **error, ImdSeries *series, size_t slices)
{
    ImdHeader *header = imd_series_header(series);
    double spacing[3] = {1, 1, 1};
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    double *locations = imd__calloc(error, slices, sizeof *locations);
    bool ok = positions != NULL && locations != NULL &&
              imd_header_set_spacing(error, header, spacing);
    for (size_t s = 0; ok && s < slices; s++) {
        positions[s] = (ImdVec3){0, 0, (double)s};
        locations[s] = (double)s;
    }
    ok = ok && imd_header_set_image_positions(error, header, positions, slices) &&
         imd_header_set_slice_locations(error, header, locations, slices) &&
         imd_series_set_input_order(error, series, "none") &&
         imd_header_set_tag_shape(error, header, slices, 0, NULL, 1);
    ImdValue zero = imd_value_number(0);
    for (size_t s = 0; ok && s < slices; s++) {
        ok = imd_header_set_tag(error, header, s, NULL, &zero);
    }
    free(positions);
    free(locations);
    /* A picture goes to DICOM as Secondary Capture (src/formats/dicom/write.c). */
    ok = ok && imd_header_set_string(error, header, "ConversionType", "WSD");
    imd_header_set_geometry_defined(header, false);
    return ok;
}

/* Pages [first, first + count) as one series (2D for one page). */
static ImdSeries *stack_pages(ImdError **error, const ImdPicturePage *pages, size_t count)
{
    size_t shape[3] = {count, pages[0].height, pages[0].width};
    bool flat = count == 1;
    ImdSeries *series = imd_series_create(error, pages[0].dtype, flat ? 2 : 3,
                                          flat ? shape + 1 : shape);
    if (series == NULL) {
        return NULL;
    }
    uint8_t *out = imd_series_data(series);
    size_t plane = pages[0].width * pages[0].height * imd_dtype_size(pages[0].dtype);
    for (size_t i = 0; i < count; i++) {
        memcpy(out + i * plane, pages[i].data, plane);
    }
    if (!set_plain_geometry(error, series, count)) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static bool same_shape(const ImdPicturePage *a, const ImdPicturePage *b)
{
    return a->width == b->width && a->height == b->height && a->dtype == b->dtype;
}

static ImdSeriesList *picture_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    const ImdPicturePages *pages = &reader->pages;
    if (pages->count == 0) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "no %s image read",
                      kinds[reader->kind].label);
        return NULL;
    }
    ImdSeriesList *list = imd_series_list_create(error);
    bool ok = list != NULL;
    for (size_t first = 0; ok && first < pages->count;) {
        size_t end = first + 1;
        while (end < pages->count && same_shape(&pages->pages[first], &pages->pages[end])) {
            end++;
        }
        if (first > 0 || end < pages->count) {
            imd_context_log(reader->context, IMD_LOG_INFO,
                            "%s: pages %zu to %zu have one size and type: one series",
                            kinds[reader->kind].label, first, end - 1);
        }
        size_t bytes = 0;
        ok = imd__mul_size(pages->pages[first].width * pages->pages[first].height *
                               imd_dtype_size(pages->pages[first].dtype),
                           end - first, &bytes) &&
             imd__check_alloc(error, reader->context, bytes, kinds[reader->kind].label);
        ImdSeries *series = ok ? stack_pages(error, &pages->pages[first], end - first) : NULL;
        ok = series != NULL && imd_series_list_add(error, list, series);
        if (!ok) {
            imd_series_destroy(series);
        }
        first = end;
    }
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

static const char *const sort_choices[] = {"slice", "tag", NULL};

/* ---- writing: what is written ---- */

typedef struct Plan {
    ImdDType as;     /* the written type */
    bool window;     /* map [low, high] linearly to 0..255 */
    double low, high;
} Plan;

static double value_at(ImdDType dtype, const uint8_t *data, size_t i)
{
    switch (dtype) {
    case IMD_DTYPE_BOOL: return data[i] != 0 ? 255 : 0;
    case IMD_DTYPE_UINT8: return data[i];
    case IMD_DTYPE_INT8: return ((const int8_t *)(const void *)data)[i];
    case IMD_DTYPE_UINT16: return ((const uint16_t *)(const void *)data)[i];
    case IMD_DTYPE_INT16: return ((const int16_t *)(const void *)data)[i];
    case IMD_DTYPE_UINT32: return ((const uint32_t *)(const void *)data)[i];
    case IMD_DTYPE_INT32: return ((const int32_t *)(const void *)data)[i];
    case IMD_DTYPE_UINT64: return (double)((const uint64_t *)(const void *)data)[i];
    case IMD_DTYPE_INT64: return (double)((const int64_t *)(const void *)data)[i];
    case IMD_DTYPE_FLOAT32: return ((const float *)(const void *)data)[i];
    case IMD_DTYPE_FLOAT64: return ((const double *)(const void *)data)[i];
    default: return 0;
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The 1 % and 99 % points of the series' finite values (a regular sample of at most RANGE_SAMPLES). */
static bool percentile_range(ImdError **error, const ImdSeries *series, double *low,
                             double *high)
{
    size_t n = imd_series_count(series);
    size_t step = n > RANGE_SAMPLES ? (n + RANGE_SAMPLES - 1) / RANGE_SAMPLES : 1;
    double *values = imd__malloc(error, (n / step + 1) * sizeof *values);
    if (values == NULL) {
        return false;
    }
    ImdDType dtype = imd_series_dtype(series);
    const uint8_t *data = imd_series_const_data(series);
    size_t count = 0;
    for (size_t i = 0; i < n; i += step) {
        double v = value_at(dtype, data, i);
        if (isfinite(v)) {
            values[count++] = v;
        }
    }
    *low = *high = 0;
    if (count > 0) {
        qsort(values, count, sizeof *values, compare_doubles);
        *low = values[(size_t)floor(0.01 * (double)(count - 1))];
        *high = values[(size_t)ceil(0.99 * (double)(count - 1))];
    }
    free(values);
    return true;
}

static bool fits(const ImdSeries *series, double lo, double hi)
{
    ImdDType dtype = imd_series_dtype(series);
    const uint8_t *data = imd_series_const_data(series);
    for (size_t i = 0, n = imd_series_count(series); i < n; i++) {
        double v = value_at(dtype, data, i);
        if (!(v >= lo && v <= hi)) {
            return false;
        }
    }
    return true;
}

static bool make_plan(ImdError **error, const ImdSeries *series, Kind kind, Plan *plan)
{
    ImdDType dtype = imd_series_dtype(series);
    memset(plan, 0, sizeof *plan);
    if (imd_dtype_is_complex(dtype)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s cannot hold complex data (write its "
                      "magnitude or phase)", kinds[kind].label);
        return false;
    }
    bool integer = imd_dtype_is_integer(dtype) && dtype != IMD_DTYPE_BOOL;
    if (dtype == IMD_DTYPE_UINT8 || dtype == IMD_DTYPE_RGB8) {
        plan->as = dtype;
        return true;
    }
    if (dtype == IMD_DTYPE_BOOL) {
        plan->as = IMD_DTYPE_UINT8; /* 0/255: value_at() */
        return true;
    }
    if (kind != KIND_JPEG) {
        if (dtype == IMD_DTYPE_UINT16 || (integer && fits(series, 0, 65535))) {
            plan->as = IMD_DTYPE_UINT16;
            return true;
        }
        if (kind == KIND_TIFF && integer && fits(series, -32768, 32767)) {
            plan->as = IMD_DTYPE_INT16;
            return true;
        }
        if (kind == KIND_TIFF && (dtype == IMD_DTYPE_FLOAT32 || dtype == IMD_DTYPE_FLOAT64)) {
            plan->as = IMD_DTYPE_FLOAT32;
            return true;
        }
    }
    plan->as = IMD_DTYPE_UINT8;
    plan->window = true;
    double center = 0, width = 0;
    const ImdHeader *header = imd_series_const_header(series);
    if (imd_header_window(header, &center, &width) && isfinite(center) && isfinite(width) &&
        width >= 1) {
        /* PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255 between these. */
        plan->low = center - 0.5 - (width - 1) / 2;
        plan->high = center - 0.5 + (width - 1) / 2;
    } else if (!percentile_range(error, series, &plan->low, &plan->high)) {
        return false;
    }
    return true;
}

/* Plane `index` of the series as the plan's type in `out`. */
static void convert_plane(const ImdSeries *series, const Plan *plan, size_t index, size_t plane,
                          uint8_t *out)
{
    ImdDType dtype = imd_series_dtype(series);
    const uint8_t *data = (const uint8_t *)imd_series_const_data(series) +
                          index * plane * imd_dtype_size(dtype);
    if (plan->as == dtype) {
        memcpy(out, data, plane * imd_dtype_size(dtype));
        return;
    }
    double span = plan->high - plan->low;
    for (size_t i = 0; i < plane; i++) {
        double v = value_at(dtype, data, i);
        if (plan->window) {
            double y = span > 0 ? (v - plan->low) / span * 255.0 : (v > plan->low ? 255 : 0);
            y = isnan(y) ? 0 : y < 0 ? 0 : y > 255 ? 255 : y;
            out[i] = (uint8_t)lround(y);
        } else if (plan->as == IMD_DTYPE_UINT8) {
            out[i] = (uint8_t)v;
        } else if (plan->as == IMD_DTYPE_UINT16) {
            uint16_t u = (uint16_t)v;
            memcpy(out + 2 * i, &u, 2);
        } else if (plan->as == IMD_DTYPE_INT16) {
            int16_t s = (int16_t)v;
            memcpy(out + 2 * i, &s, 2);
        } else { /* FLOAT32 */
            float f = (float)v;
            memcpy(out + 4 * i, &f, 4);
        }
    }
}

/* ---- writing: names ---- */

static bool ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n >= m && strcasecmp(name + n - m, suffix) == 0;
}

static const char *own_suffix(Kind kind, const char *name)
{
    for (const char *const *s = kinds[kind].suffixes; *s != NULL; s++) {
        if (ends_with(name, *s)) {
            return *s;
        }
    }
    return NULL;
}

/* Member name of file `index` of `count` (behaviour.md §7.3; the Pillow plugin's fallback). */
static char *output_name(ImdError **error, Kind kind, const char *name, size_t index,
                         size_t count)
{
    const char *suffix = kinds[kind].suffixes[0];
    size_t length = name != NULL ? strlen(name) : 0;
    if (length == 0 || name[length - 1] == '/') {
        return imd__sprintf(error, "%sImage_%05zu%s", length > 0 ? name : "", index, suffix);
    }
    const char *own = own_suffix(kind, name);
    if (imd__name_has_number(name)) {
        char *formatted = imd__format_numbered_name(error, name, index);
        if (formatted == NULL || own != NULL) {
            return formatted;
        }
        char *full = imd__sprintf(error, "%s%s", formatted, suffix);
        free(formatted);
        return full;
    }
    if (count == 1) {
        return own != NULL ? imd__strdup(error, name) : imd__sprintf(error, "%s%s", name, suffix);
    }
    if (own != NULL) {
        /* The original overwrote one file per slice: number them instead. */
        size_t stem = length - strlen(own);
        return imd__sprintf(error, "%.*s_%05zu%s", (int)stem, name, index, name + stem);
    }
    return imd__sprintf(error, "%s/Image_%05zu%s", name, index, suffix);
}

/* ---- writing ---- */

static bool encode(ImdError **error, Kind kind, const ImdPicturePage *page,
                   const ImdOptions *options, const char *member, uint8_t **out,
                   size_t *out_size)
{
    switch (kind) {
#ifdef IMD_WITH_PNG
    case KIND_PNG:
        return imd__picture_png_encode(error, page, member, out, out_size);
#endif
#ifdef IMD_WITH_TURBOJPEG
    case KIND_JPEG: {
        int64_t quality = 95;
        if (!imd_options_get_int(error, options, "jpeg_quality", 95, &quality)) {
            return false;
        }
        if (quality < 1 || quality > 100) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "jpeg_quality=%lld: expected 1 to 100",
                          (long long)quality);
            return false;
        }
        return imd__picture_jpeg_encode(error, page, (int)quality, member, out, out_size);
    }
#endif
#ifdef IMD_WITH_TIFF
    case KIND_TIFF:
        return imd__picture_tiff_encode(error, page, 1,
                                        imd_options_get(options, "tiff_compression", "deflate"),
                                        member, out, out_size);
#endif
    default:
        break;
    }
    IMD__UNUSED(page);
    IMD__UNUSED(options);
    IMD__UNUSED(out);
    IMD__UNUSED(out_size);
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: %s was left out of this build", member,
                  kinds[kind].label);
    return false;
}

static bool picture_write(ImdError **error, Kind kind, const ImdSeries *series,
                          ImdArchive *destination, const char *name, const ImdOptions *options)
{
    if (series == NULL || destination == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s write: no series or destination",
                      kinds[kind].label);
        return false;
    }
    size_t ndim = imd_series_ndim(series);
    if (ndim < 2) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s writes images of 2 or more dimensions",
                      kinds[kind].label);
        return false;
    }
    Plan plan;
    if (!make_plan(error, series, kind, &plan)) {
        return false;
    }
    size_t rows = imd_series_dim(series, ndim - 2), columns = imd_series_dim(series, ndim - 1);
    size_t slices = ndim >= 3 ? imd_series_dim(series, ndim - 3) : 1, cells = 1;
    for (size_t d = 0; d + 3 < ndim; d++) {
        cells *= imd_series_dim(series, d);
    }
    size_t files = cells * slices, plane = rows * columns;
    size_t sort = 0;
    if (!imd_options_get_choice(error, options, "output_sort", sort_choices, 0, &sort)) {
        return false;
    }
    bool by_tag = sort == 1;
    ImdPicturePage page = {columns, rows, plan.as, NULL};
    page.data = imd__malloc(error, plane * imd_dtype_size(plan.as));
    ImdStream **streams = imd__calloc(error, files, sizeof *streams);
    bool ok = page.data != NULL && streams != NULL;
    size_t opened = 0;
    for (size_t f = 0; ok && f < files; f++) {
        /* Slices vary fastest in the file numbers (the original's SORT_ON_SLICE), else tags. */
        size_t cell = by_tag ? f % cells : f / slices, slice = by_tag ? f / cells : f % slices;
        convert_plane(series, &plan, cell * slices + slice, plane, page.data);
        char *member = output_name(error, kind, name, f, ndim == 2 ? 1 : files);
        uint8_t *bytes = NULL;
        size_t size = 0;
        ok = member != NULL && imd__check_cancel(error, NULL, member) &&
             encode(error, kind, &page, options, member, &bytes, &size);
        if (ok) {
            streams[opened] = imd_archive_open_member(error, destination, member, IMD_MODE_WRITE);
            ok = streams[opened] != NULL;
            opened += ok;
        }
        ok = ok && imd_stream_write(error, streams[opened - 1], bytes, size);
        if (!ok && member != NULL) {
            imd_error_prefix(error, "%s: ", member);
        }
        free(bytes);
        free(member);
    }
    size_t i = 0;
    for (; ok && i < opened; i++) {
        ok = imd_stream_close(error, streams[i]);
    }
    for (; i < opened; i++) {
        imd_stream_abort(streams[i]);
    }
    free(streams);
    free(page.data);
    return ok;
}

static bool png_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                      const char *name, const ImdOptions *options)
{
    return picture_write(error, KIND_PNG, series, destination, name, options);
}

static bool jpeg_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                       const char *name, const ImdOptions *options)
{
    return picture_write(error, KIND_JPEG, series, destination, name, options);
}

static bool tiff_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                       const char *name, const ImdOptions *options)
{
    return picture_write(error, KIND_TIFF, series, destination, name, options);
}

static const char *const compression_choices[] = {"none", "deflate", "lzw", "packbits", NULL};

/* docs/formats.md. */
static const ImdOptionSpec png_options[] = {
    {"output_sort", IMD_OPTION_CHOICE, "4D output numbered slices fastest (slice) or tags (tag)",
     sort_choices},
    {NULL, 0, NULL, NULL},
};

static const ImdOptionSpec jpeg_options[] = {
    {"output_sort", IMD_OPTION_CHOICE, "4D output numbered slices fastest (slice) or tags (tag)",
     sort_choices},
    {"jpeg_quality", IMD_OPTION_INT, "JPEG quality of written files, 1 to 100 (95)", NULL},
    {NULL, 0, NULL, NULL},
};

static const ImdOptionSpec tiff_options[] = {
    {"output_sort", IMD_OPTION_CHOICE, "4D output numbered slices fastest (slice) or tags (tag)",
     sort_choices},
    {"tiff_compression", IMD_OPTION_CHOICE, "compression of written TIFF files (deflate)",
     compression_choices},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__png_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "png",
    .description = "PNG pictures (libpng): 8/16-bit grey, RGB",
    .suffixes = png_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = png_probe,
    .reader_create = png_reader_create,
    .reader_add = picture_reader_add,
    .reader_finish = picture_reader_finish,
    .reader_destroy = picture_reader_destroy,
    .write = png_write,
    .options = png_options,
};

const ImdFormatPlugin imd__jpeg_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "jpeg",
    .description = "JPEG pictures (libjpeg-turbo): 8-bit grey, RGB",
    .suffixes = jpeg_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = jpeg_probe,
    .reader_create = jpeg_reader_create,
    .reader_add = picture_reader_add,
    .reader_finish = picture_reader_finish,
    .reader_destroy = picture_reader_destroy,
    .write = jpeg_write,
    .options = jpeg_options,
};

const ImdFormatPlugin imd__tiff_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "tiff",
    .description = "TIFF pictures (libtiff): 8/16-bit grey, int16, float32, RGB; multi-page",
    .suffixes = tiff_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = tiff_probe,
    .reader_create = tiff_reader_create,
    .reader_add = picture_reader_add,
    .reader_finish = picture_reader_finish,
    .reader_destroy = picture_reader_destroy,
    .write = tiff_write,
    .options = tiff_options,
};
