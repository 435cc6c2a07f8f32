/*
 * view.c: the viewer behind imd_view() and imd_view_urls() (docs/viewer.md,
 * behaviour.md §9). SDL2 draws, SDL_ttf writes the text overlays.
 *
 * Each viewport turns the current slice into a float plane already in
 * display orientation (radiological: patient left on screen right for axial
 * and coronal images), applies the window to it into an ARGB texture, and
 * lets the renderer scale that texture (nearest neighbour) to a rectangle
 * whose aspect ratio is the pixel spacing's.
 */
#define _POSIX_C_SOURCE 200809L
#include <imagedata/imagedata.h>
#include <imagedata/view.h>

#include <SDL.h>
#include <SDL_ttf.h>

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PER_PAGE 20 /* r <= 4: the original's largest grid is 4 x 5 */
#define TEXT_SLOTS 9    /* four corners, the readout, four orientation letters */
#define DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

typedef struct TextCache {
    char *text;
    SDL_Texture *texture;
    int w, h;
} TextCache;

typedef struct Item {
    ImdSeries *series;
    /*
     * A preview (a series still being decoded, not ours: the reader's fill
     * watch): per image, whether its pixels are in. NULL: a whole series.
     */
    const atomic_uchar *ready;
    size_t ndim, tag_ndim, rows, cols, slices, tags;
    size_t slice_dim; /* SIZE_MAX: no slice axis */
    size_t stride[IMD_MAX_DIMS];
    ImdDType dtype;
    bool rgb, integer, mono1;
    double min, max; /* of the shown values (magnitude for complex), NaN excluded */
    size_t slice, tag;
    double center, width;
    /* Display orientation: plane pixel (u, v) shows data (row, column). */
    bool transpose, flip_x, flip_y;
    int disp_w, disp_h;
    double sp_x, sp_y; /* mm per shown pixel across and down */
    char letters[4][4]; /* right, left, top, bottom edges */
    uint8_t *lut;       /* integer data: grey of value min + i */
    size_t lut_size;
    bool lut_valid, texture_valid;
    /*
     * The texture holds the visible part of the image at screen resolution
     * (`shown_at` on screen): each pixel is its nearest voxel, so a frame
     * costs the pixels on screen, not the voxels of the slice.
     */
    SDL_Texture *texture;
    SDL_Rect shown_at, shown_rect;
    ptrdiff_t *map_x, *map_y; /* element offset of each screen column / row */
    int map_w, map_h;
    double zoom, pan_x, pan_y;
    SDL_Rect rect; /* where the image went on the last frame */
    SDL_Rect cell;
    bool shown;
    TextCache text[TEXT_SLOTS];
} Item;

typedef struct Reader Reader;

typedef struct View {
    const ImdViewOptions *opt;
    SDL_Window *window;
    SDL_Renderer *renderer;
    TTF_Font *font;
    Item *items;
    size_t count, capacity;
    size_t first;
    int grid_rows, grid_cols;
    bool text, quit, dirty;
    int mouse_x, mouse_y;
    size_t active;
    int drag_button;
    int drag_x0, drag_y0;
    size_t drag_item;
    double drag_a, drag_b;
    char readout[256];
    size_t readout_item;
    unsigned shot_number;
    char status[256];
    TextCache status_cache;
    ImdError *error; /* the first failure inside the loop */
    Reader *reader;
} View;

static void report(const View *view, const char *format, ...) IMD_PRINTF(2, 3);
static void report(const View *view, const char *format, ...)
{
    if (view->opt->report == NULL) {
        return;
    }
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    view->opt->report(view->opt->report_user, line);
}

/* ---- values ------------------------------------------------------------ */

/* The shown value of element `index`: complex data as its magnitude. */
static double voxel(const void *data, ImdDType dtype, size_t index)
{
    switch (dtype) {
    case IMD_DTYPE_BOOL:
    case IMD_DTYPE_UINT8:
        return ((const uint8_t *)data)[index];
    case IMD_DTYPE_INT8:
        return ((const int8_t *)data)[index];
    case IMD_DTYPE_UINT16:
        return ((const uint16_t *)data)[index];
    case IMD_DTYPE_INT16:
        return ((const int16_t *)data)[index];
    case IMD_DTYPE_UINT32:
        return ((const uint32_t *)data)[index];
    case IMD_DTYPE_INT32:
        return ((const int32_t *)data)[index];
    case IMD_DTYPE_UINT64:
        return (double)((const uint64_t *)data)[index];
    case IMD_DTYPE_INT64:
        return (double)((const int64_t *)data)[index];
    case IMD_DTYPE_FLOAT32:
        return ((const float *)data)[index];
    case IMD_DTYPE_FLOAT64:
        return ((const double *)data)[index];
    case IMD_DTYPE_COMPLEX64: {
        const float *p = (const float *)data + 2 * index;
        return hypot(p[0], p[1]);
    }
    case IMD_DTYPE_COMPLEX128: {
        const double *p = (const double *)data + 2 * index;
        return hypot(p[0], p[1]);
    }
    case IMD_DTYPE_RGB8: {
        const uint8_t *p = (const uint8_t *)data + 3 * index;
        return (p[0] + p[1] + p[2]) / 3.0;
    }
    }
    return NAN;
}

/*
 * The window, DICOM PS3.3 C.11.2.1.2.1 (LINEAR) for integer data and a
 * width of at least 1; otherwise C.11.2.1.3.2 (LINEAR_EXACT), which also
 * holds for float data with a range below 1. NaN shows black.
 */
static uint8_t window_grey(double v, double c, double w, bool exact)
{
    if (isnan(v)) {
        return 0;
    }
    double g;
    if (!exact) {
        if (v <= c - 0.5 - (w - 1) / 2) {
            return 0;
        }
        if (v > c - 0.5 + (w - 1) / 2) {
            return 255;
        }
        g = ((v - (c - 0.5)) / (w - 1) + 0.5) * 255;
    } else {
        if (v <= c - w / 2) {
            return 0;
        }
        if (v > c + w / 2) {
            return 255;
        }
        g = ((v - c) / w + 0.5) * 255;
    }
    return g <= 0 ? 0 : g >= 255 ? 255 : (uint8_t)g;
}

static bool exact_window(const Item *item)
{
    return !item->integer || item->width < 1;
}

/* ---- one series -------------------------------------------------------- */

static void letters_of(double x, double y, double z, char out[4])
{
    /* LPS: +x left, +y posterior, +z head (PS3.3 C.7.6.2.1.1). */
    struct {
        double m;
        char c;
    } parts[3] = {{x, x >= 0 ? 'L' : 'R'}, {y, y >= 0 ? 'P' : 'A'}, {z, z >= 0 ? 'H' : 'F'}};
    for (int i = 0; i < 3; i++) {
        parts[i].m = fabs(parts[i].m);
    }
    /* largest first; components below 0.3 are left out */
    for (int i = 0; i < 3; i++) {
        for (int j = i + 1; j < 3; j++) {
            if (parts[j].m > parts[i].m) {
                double m = parts[i].m;
                char c = parts[i].c;
                parts[i] = parts[j];
                parts[j].m = m;
                parts[j].c = c;
            }
        }
    }
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (parts[i].m >= 0.3 || i == 0) {
            out[n++] = parts[i].c;
        }
    }
    out[n] = '\0';
}

static double dot3(ImdVec3 a, double x, double y, double z)
{
    return a.x * x + a.y * y + a.z * z;
}

/*
 * How radiologists expect to see the plane: axial with patient left on
 * screen right and posterior down, coronal with left right and feet down,
 * sagittal with posterior right and feet down. The data axis closest to the
 * wanted screen-right direction goes across (transposing when that is the
 * row axis) and each is flipped when it points the other way.
 */
static void orient(Item *item)
{
    const ImdHeader *header = imd_series_const_header(item->series);
    double spacing[3];
    imd_series_spacing(item->series, spacing);
    double dr = spacing[1] > 0 ? spacing[1] : 1, dc = spacing[2] > 0 ? spacing[2] : 1;
    ImdVec3 row, column;
    imd_header_orientation(header, &row, &column);
    item->transpose = item->flip_x = item->flip_y = false;
    if (imd_header_geometry_defined(header)) {
        ImdVec3 n = imd_header_normal(header);
        /* the plane the normal is closest to; ties go axial, then coronal */
        double rx = 1, ry = 0, rz = 0, dx = 0, dy = 1, dz = 0; /* axial */
        if (fabs(n.z) >= fabs(n.x) && fabs(n.z) >= fabs(n.y)) {
            /* axial */
        } else if (fabs(n.y) >= fabs(n.x)) {
            dy = 0, dz = -1; /* coronal */
        } else {
            rx = 0, ry = 1, dy = 0, dz = -1; /* sagittal */
        }
        if (fabs(dot3(row, rx, ry, rz)) >= fabs(dot3(column, rx, ry, rz))) {
            item->flip_x = dot3(row, rx, ry, rz) < 0;
            item->flip_y = dot3(column, dx, dy, dz) < 0;
        } else {
            item->transpose = true;
            item->flip_x = dot3(column, rx, ry, rz) < 0;
            item->flip_y = dot3(row, dx, dy, dz) < 0;
        }
    }
    ImdVec3 across = item->transpose ? column : row, down = item->transpose ? row : column;
    double sx = item->flip_x ? -1 : 1, sy = item->flip_y ? -1 : 1;
    letters_of(sx * across.x, sx * across.y, sx * across.z, item->letters[0]);
    letters_of(-sx * across.x, -sx * across.y, -sx * across.z, item->letters[1]);
    letters_of(-sy * down.x, -sy * down.y, -sy * down.z, item->letters[2]);
    letters_of(sy * down.x, sy * down.y, sy * down.z, item->letters[3]);
    item->disp_w = (int)(item->transpose ? item->rows : item->cols);
    item->disp_h = (int)(item->transpose ? item->cols : item->rows);
    item->sp_x = item->transpose ? dr : dc;
    item->sp_y = item->transpose ? dc : dr;
}

/* The original's window when the series has none (behaviour.md §1.7). */
static void default_window(Item *item)
{
    double c, w;
    if (imd_header_window(imd_series_const_header(item->series), &c, &w) && w > 0 &&
        isfinite(c) && isfinite(w)) {
        item->center = c, item->width = w;
        return;
    }
    if (item->rgb) {
        item->center = 127, item->width = 256;
        return;
    }
    double lo = isfinite(item->min) ? item->min : 0, hi = isfinite(item->max) ? item->max : 1;
    w = hi - lo;
    c = (hi + lo) / 2;
    if (item->integer) {
        if (fabs(w) > 2) {
            w = round(w);
        }
        if (fabs(c) > 2) {
            c = round(c);
        }
    }
    item->center = c;
    item->width = w > 0 ? w : 1;
}

static bool item_init(ImdError **error, Item *item, ImdSeries *series,
                      const atomic_uchar *ready)
{
    memset(item, 0, sizeof *item);
    item->series = series;
    item->ready = ready;
    item->ndim = imd_series_ndim(series);
    if (item->ndim < 2) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: a series of %zu dimension(s) "
                      "cannot be shown (at least rows and columns)", item->ndim);
        return false;
    }
    item->dtype = imd_series_dtype(series);
    item->rgb = item->dtype == IMD_DTYPE_RGB8;
    item->integer = imd_dtype_is_integer(item->dtype);
    item->cols = imd_series_dim(series, item->ndim - 1);
    item->rows = imd_series_dim(series, item->ndim - 2);
    item->tag_ndim = imd_series_tag_ndim(series);
    int slice_dim = imd_series_find_axis(series, "slice");
    item->slice_dim = slice_dim >= 0 && (size_t)slice_dim < item->ndim - 2 ? (size_t)slice_dim
                                                                         : SIZE_MAX;
    item->slices = item->slice_dim != SIZE_MAX ? imd_series_dim(series, item->slice_dim) : 1;
    item->tags = item->tag_ndim > 0 && item->slice_dim != 0 ? imd_series_dim(series, 0) : 1;
    size_t stride = 1;
    for (size_t d = item->ndim; d-- > 0;) {
        item->stride[d] = stride;
        stride *= imd_series_dim(series, d);
    }
    const char *photometric =
        imd_header_get_string(imd_series_const_header(series), "PhotometricInterpretation");
    item->mono1 = photometric != NULL && strcmp(photometric, "MONOCHROME1") == 0;
    /* min and max of what is shown (magnitudes of complex values); of a
     * preview, of the images already in */
    const void *data = imd_series_const_data(series);
    size_t count = imd_series_count(series), plane = item->rows * item->cols;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < count && !item->rgb; i++) {
        if (ready != NULL && i % plane == 0 && !atomic_load(&ready[i / plane])) {
            i += plane - 1;
            continue;
        }
        double v = voxel(data, item->dtype, i);
        if (v < lo) {
            lo = v;
        }
        if (v > hi) {
            hi = v;
        }
    }
    item->min = item->rgb ? 0 : lo;
    item->max = item->rgb ? 255 : hi;
    item->slice = item->slices / 2; /* the original starts on slices // 2, tag 0 */
    item->zoom = 1;
    orient(item);
    default_window(item);
    /*
     * A LUT of max - min + 1 entries for integer data (behaviour.md §9), when
     * every value is exact in the float plane (|v| < 2^24) and the range is
     * modest; other data is windowed value by value.
     */
    if (ready == NULL && item->integer && isfinite(item->min) && fabs(item->min) < 16777216.0 &&
        fabs(item->max) < 16777216.0 && item->max - item->min < (double)(1u << 20)) {
        item->lut_size = (size_t)(item->max - item->min) + 1;
        item->lut = malloc(item->lut_size);
        if (item->lut == NULL) {
            item->lut_size = 0;
        }
    }
    return true;
}

static void text_cache_clear(TextCache *cache)
{
    free(cache->text);
    if (cache->texture != NULL) {
        SDL_DestroyTexture(cache->texture);
    }
    memset(cache, 0, sizeof *cache);
}

static void item_free(Item *item)
{
    free(item->map_x);
    free(item->map_y);
    free(item->lut);
    if (item->texture != NULL) {
        SDL_DestroyTexture(item->texture);
    }
    for (int i = 0; i < TEXT_SLOTS; i++) {
        text_cache_clear(&item->text[i]);
    }
}

/* Element offset of (tag, slice) in the series; other tag dimensions at 0. */
static size_t plane_offset(const Item *item)
{
    size_t offset = 0;
    if (item->slice_dim != SIZE_MAX) {
        offset += item->slice * item->stride[item->slice_dim];
    }
    if (item->tag_ndim > 0 && item->slice_dim != 0) {
        offset += item->tag * item->stride[0];
    }
    return offset;
}

/* Whether the current plane's pixels are in (always, but in a preview). */
static bool plane_ready(const Item *item)
{
    return item->ready == NULL ||
           atomic_load(&item->ready[plane_offset(item) / (item->rows * item->cols)]);
}

static void build_lut(Item *item)
{
    bool exact = exact_window(item);
    for (size_t i = 0; i < item->lut_size; i++) {
        uint8_t g = window_grey(item->min + (double)i, item->center, item->width, exact);
        item->lut[i] = item->mono1 ? (uint8_t)(255 - g) : g;
    }
    item->lut_valid = true;
}

/*
 * Which voxel each screen column and row of `at` shows: the screen pixel
 * centre x + 0.5 falls into shown column u = floor((x + 0.5 - rect.x) *
 * disp_w / rect.w); u is then unflipped and becomes a column c (offset c) or,
 * transposed, a row r (offset r * cols). A voxel's offset in the slice is
 * map_x[x] + map_y[y].
 */
static bool make_maps(ImdError **error, Item *item, SDL_Rect at)
{
    if (at.w != item->map_w || at.h != item->map_h) {
        ptrdiff_t *mx = realloc(item->map_x, (size_t)at.w * sizeof *mx);
        if (mx != NULL) {
            item->map_x = mx;
        }
        ptrdiff_t *my = realloc(item->map_y, (size_t)at.h * sizeof *my);
        if (my != NULL) {
            item->map_y = my;
        }
        if (mx == NULL || my == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "viewer: out of memory for a %d x %d view",
                          at.w, at.h);
            item->map_w = item->map_h = 0;
            return false;
        }
        item->map_w = at.w, item->map_h = at.h;
    }
    ptrdiff_t cols = (ptrdiff_t)item->cols;
    for (int x = 0; x < at.w; x++) {
        double f = (at.x + x + 0.5 - item->rect.x) * item->disp_w / item->rect.w;
        ptrdiff_t u = f < 0 ? 0 : f >= item->disp_w ? item->disp_w - 1 : (ptrdiff_t)f;
        if (item->flip_x) {
            u = item->disp_w - 1 - u;
        }
        item->map_x[x] = item->transpose ? u * cols : u;
    }
    for (int y = 0; y < at.h; y++) {
        double f = (at.y + y + 0.5 - item->rect.y) * item->disp_h / item->rect.h;
        ptrdiff_t v = f < 0 ? 0 : f >= item->disp_h ? item->disp_h - 1 : (ptrdiff_t)f;
        if (item->flip_y) {
            v = item->disp_h - 1 - v;
        }
        item->map_y[y] = item->transpose ? v : v * cols;
    }
    return true;
}

#define FILL_LUT(type)                                                                        \
    do {                                                                                      \
        const type *in = (const type *)data + base + item->map_y[y];                         \
        for (int x = 0; x < at.w; x++) {                                                      \
            uint32_t g = lut[(int32_t)in[item->map_x[x]] - lut_min];                          \
            out[x] = 0xFF000000u | g << 16 | g << 8 | g;                                      \
        }                                                                                     \
    } while (0)

/* Fill the texture with the visible part of the current slice, windowed. */
static bool upload(ImdError **error, View *view, Item *item)
{
    SDL_Rect at;
    if (!SDL_IntersectRect(&item->rect, &item->cell, &at)) {
        return true; /* panned out of sight */
    }
    if (item->texture_valid && SDL_RectEquals(&at, &item->shown_at) &&
        SDL_RectEquals(&item->rect, &item->shown_rect)) {
        return true;
    }
    int tw = 0, th = 0;
    if (item->texture != NULL) {
        SDL_QueryTexture(item->texture, NULL, NULL, &tw, &th);
    }
    if (item->texture == NULL || tw != at.w || th != at.h) {
        if (item->texture != NULL) {
            SDL_DestroyTexture(item->texture);
        }
        item->texture = SDL_CreateTexture(view->renderer, SDL_PIXELFORMAT_ARGB8888,
                                          SDL_TEXTUREACCESS_STREAMING, at.w, at.h);
        if (item->texture == NULL) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED, "viewer: a %d x %d texture: %s", at.w,
                          at.h, SDL_GetError());
            return false;
        }
    }
    if (!make_maps(error, item, at)) {
        return false;
    }
    if (item->lut != NULL && !item->lut_valid) {
        build_lut(item);
    }
    void *pixels;
    int pitch;
    if (SDL_LockTexture(item->texture, NULL, &pixels, &pitch) != 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "viewer: cannot lock a texture: %s",
                      SDL_GetError());
        return false;
    }
    const void *data = imd_series_const_data(item->series);
    ptrdiff_t base = (ptrdiff_t)plane_offset(item);
    bool exact = exact_window(item);
    const uint8_t *lut = item->lut;
    int32_t lut_min = lut != NULL ? (int32_t)item->min : 0;
    double c = item->center, w = item->width;
    for (int y = 0; y < at.h; y++) {
        uint32_t *out = (uint32_t *)((uint8_t *)pixels + (size_t)y * (size_t)pitch);
        if (item->rgb) {
            const uint8_t *in = (const uint8_t *)data + 3 * (base + item->map_y[y]);
            for (int x = 0; x < at.w; x++) {
                const uint8_t *p = in + 3 * item->map_x[x];
                out[x] = 0xFF000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            }
        } else if (lut != NULL && item->dtype == IMD_DTYPE_INT16) {
            FILL_LUT(int16_t);
        } else if (lut != NULL && item->dtype == IMD_DTYPE_UINT16) {
            FILL_LUT(uint16_t);
        } else if (lut != NULL && item->dtype == IMD_DTYPE_UINT8) {
            FILL_LUT(uint8_t);
        } else if (lut != NULL) {
            for (int x = 0; x < at.w; x++) {
                double v = voxel(data, item->dtype, (size_t)(base + item->map_y[y] + item->map_x[x]));
                uint32_t g = lut[(int32_t)v - lut_min];
                out[x] = 0xFF000000u | g << 16 | g << 8 | g;
            }
        } else {
            for (int x = 0; x < at.w; x++) {
                size_t index = (size_t)(base + item->map_y[y] + item->map_x[x]);
                double v = item->dtype == IMD_DTYPE_FLOAT32 ? ((const float *)data)[index]
                                                            : voxel(data, item->dtype, index);
                uint32_t g = window_grey(v, c, w, exact);
                if (item->mono1 && !isnan(v)) {
                    g = 255 - g;
                }
                out[x] = 0xFF000000u | g << 16 | g << 8 | g;
            }
        }
    }
    SDL_UnlockTexture(item->texture);
    item->shown_at = at;
    item->shown_rect = item->rect;
    item->texture_valid = true;
    return true;
}

static void set_window(Item *item, double center, double width)
{
    item->center = center;
    item->width = width < 1e-3 ? 1e-3 : width; /* the original's floor */
    item->lut_valid = item->texture_valid = false;
}

static void set_slice_tag(Item *item, long slice, long tag)
{
    if (slice < 0) {
        slice = 0;
    }
    if (tag < 0) {
        tag = 0;
    }
    size_t s = (size_t)slice < item->slices ? (size_t)slice : item->slices - 1;
    size_t t = (size_t)tag < item->tags ? (size_t)tag : item->tags - 1;
    if (s != item->slice || t != item->tag) {
        item->slice = s, item->tag = t;
        item->texture_valid = false;
    }
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* numpy.percentile's default (linear) over the sorted non-NaN values. */
static double percentile(const float *sorted, size_t n, double p)
{
    double at = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(at);
    double f = at - (double)i;
    return i + 1 < n ? sorted[i] + f * ((double)sorted[i + 1] - sorted[i]) : sorted[i];
}

/* 'w': the window spans the 1 % .. 99 % range of the current slice. */
static void window_from_histogram(Item *item)
{
    if (item->rgb) {
        return;
    }
    size_t count = item->rows * item->cols, n = 0, base = plane_offset(item);
    float *values = malloc(count * sizeof *values);
    if (values == NULL) {
        return;
    }
    const void *data = imd_series_const_data(item->series);
    for (size_t i = 0; i < count; i++) {
        double v = voxel(data, item->dtype, base + i);
        if (!isnan(v)) {
            values[n++] = (float)v;
        }
    }
    if (n > 0) {
        qsort(values, n, sizeof *values, compare_float);
        double lo = percentile(values, n, 1), hi = percentile(values, n, 99);
        set_window(item, (hi + lo) / 2, hi - lo);
    }
    free(values);
}

/* ---- layout ------------------------------------------------------------ */

/* The smallest r x r or r x (r + 1) grid that holds `n` (r <= 4). */
static void grid_for(size_t n, int *rows, int *cols)
{
    for (int r = 1; r <= 4; r++) {
        if ((size_t)(r * r) >= n) {
            *rows = r, *cols = r;
            return;
        }
        if ((size_t)(r * (r + 1)) >= n) {
            *rows = r, *cols = r + 1;
            return;
        }
    }
    *rows = 4, *cols = 5;
}

static void layout(View *view)
{
    size_t n = view->count < MAX_PER_PAGE ? view->count : MAX_PER_PAGE;
    grid_for(n == 0 ? 1 : n, &view->grid_rows, &view->grid_cols);
    int width, height;
    SDL_GetRendererOutputSize(view->renderer, &width, &height);
    size_t per_page = (size_t)(view->grid_rows * view->grid_cols);
    for (size_t i = 0; i < view->count; i++) {
        view->items[i].shown = false;
    }
    for (size_t k = 0; k < per_page && view->first + k < view->count; k++) {
        Item *item = &view->items[view->first + k];
        int gr = (int)k / view->grid_cols, gc = (int)k % view->grid_cols;
        SDL_Rect cell = {gc * width / view->grid_cols, gr * height / view->grid_rows, 0, 0};
        cell.w = (gc + 1) * width / view->grid_cols - cell.x;
        cell.h = (gr + 1) * height / view->grid_rows - cell.y;
        double pw = item->disp_w * item->sp_x, ph = item->disp_h * item->sp_y;
        double scale = fmin(cell.w / pw, cell.h / ph) * item->zoom;
        double w = pw * scale, h = ph * scale;
        item->rect.w = (int)lround(w);
        item->rect.h = (int)lround(h);
        item->rect.x = cell.x + (int)lround((cell.w - w) / 2 + item->pan_x);
        item->rect.y = cell.y + (int)lround((cell.h - h) / 2 + item->pan_y);
        item->cell = cell;
        item->shown = true;
    }
}

/* The shown series whose cell holds (x, y), else SIZE_MAX. */
static size_t item_at(const View *view, int x, int y)
{
    SDL_Point p = {x, y};
    for (size_t i = view->first; i < view->count; i++) {
        if (view->items[i].shown && SDL_PointInRect(&p, &view->items[i].cell)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* ---- text -------------------------------------------------------------- */

typedef enum Corner { TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT, CENTER } Corner;

/* Draw `text` (lines split at '\n') white on a black box at a corner of `box`. */
static void draw_text(View *view, TextCache *cache, const char *text, SDL_Rect box,
                      Corner corner)
{
    if (view->font == NULL || text == NULL || text[0] == '\0') {
        return;
    }
    if (cache->text == NULL || strcmp(cache->text, text) != 0) {
        text_cache_clear(cache);
        SDL_Color white = {255, 255, 255, 255};
        TTF_SetFontWrappedAlign(view->font, corner == TOP_RIGHT || corner == BOTTOM_RIGHT
                                                ? TTF_WRAPPED_ALIGN_RIGHT
                                                : TTF_WRAPPED_ALIGN_LEFT);
        SDL_Surface *surface = TTF_RenderUTF8_Blended_Wrapped(view->font, text, white, 0);
        if (surface == NULL) {
            return;
        }
        cache->texture = SDL_CreateTextureFromSurface(view->renderer, surface);
        cache->w = surface->w, cache->h = surface->h;
        SDL_FreeSurface(surface);
        size_t length = strlen(text);
        cache->text = malloc(length + 1);
        if (cache->texture == NULL || cache->text == NULL) {
            text_cache_clear(cache);
            return;
        }
        memcpy(cache->text, text, length + 1);
    }
    SDL_Rect at = {box.x + 2, box.y + 2, cache->w, cache->h};
    if (corner == TOP_RIGHT || corner == BOTTOM_RIGHT) {
        at.x = box.x + box.w - cache->w - 2;
    }
    if (corner == BOTTOM_LEFT || corner == BOTTOM_RIGHT) {
        at.y = box.y + box.h - cache->h - 2;
    }
    if (corner == CENTER) {
        at.x = box.x + (box.w - cache->w) / 2;
        at.y = box.y + (box.h - cache->h) / 2;
    }
    SDL_SetRenderDrawColor(view->renderer, 0, 0, 0, 255);
    SDL_RenderFillRect(view->renderer, &at);
    SDL_RenderCopy(view->renderer, cache->texture, NULL, &at);
}

static const char *attribute(const Item *item, const char *keyword)
{
    const char *value = imd_header_get_string(imd_series_const_header(item->series), keyword);
    return value != NULL ? value : "";
}

/* "20190207" "140516.55" -> "2019-02-07 14:05:16" (DA and TM, PS3.5 §6.2). */
static void date_time(char *out, size_t size, const char *date, const char *time)
{
    char d[16] = "", t[16] = "";
    if (strlen(date) >= 8) {
        snprintf(d, sizeof d, "%.4s-%.2s-%.2s", date, date + 4, date + 6);
    }
    if (strlen(time) >= 6) {
        snprintf(t, sizeof t, "%.2s:%.2s:%.2s", time, time + 2, time + 4);
    }
    snprintf(out, size, "%s%s%s", d, d[0] != '\0' && t[0] != '\0' ? " " : "", t);
}

/* The tag value as the original shows it (behaviour.md §9). */
static void tag_text(const Item *item, char *out, size_t size)
{
    out[0] = '\0';
    if (item->tag_ndim == 0 || item->slice_dim == 0) {
        return;
    }
    const ImdAxis *axis = imd_series_axis(item->series, 0);
    const char *name = imd_axis_name(axis);
    ImdValue value;
    char text[128] = "";
    if (imd_axis_value_kind(axis) == IMD_VALUE_STRING) {
        const char *label = imd_axis_string(axis, item->tag);
        const char *colon = label != NULL ? strchr(label, ':') : NULL;
        snprintf(text, sizeof text, "%s", colon != NULL ? colon + 1 : label != NULL ? label : "");
    } else if (imd_axis_value(axis, item->tag, &value) && value.count > 0) {
        double v = value.v[0];
        if (strcmp(name, "time") == 0) {
            snprintf(text, sizeof text, "%.2fs", v);
        } else if (strcmp(name, "b") == 0 || value.kind == IMD_VALUE_B_VECTOR) {
            snprintf(text, sizeof text, "%.0f", v);
        } else if (strcmp(name, "te") == 0) {
            snprintf(text, sizeof text, "%gms", v);
        } else {
            snprintf(text, sizeof text, "%g", v);
        }
    }
    snprintf(out, size, "%s[%zu]: %s", name, item->tag, text);
}

static void overlays(View *view, Item *item)
{
    char tl[512], tr[512], bl[512], br[160], when[64], name[256];
    /* patient name with '^' as ", " (the original's display) */
    const char *pn = attribute(item, "PatientName");
    size_t n = 0;
    for (const char *p = pn; *p != '\0' && n + 3 < sizeof name; p++) {
        if (*p == '^') {
            name[n++] = ',', name[n++] = ' ';
        } else {
            name[n++] = *p;
        }
    }
    name[n] = '\0';
    date_time(when, sizeof when, attribute(item, "StudyDate"), attribute(item, "StudyTime"));
    snprintf(tl, sizeof tl, "%s\n%s\n%s", name, attribute(item, "PatientID"), when);
    date_time(when, sizeof when, attribute(item, "SeriesDate"), attribute(item, "SeriesTime"));
    const char *number = attribute(item, "SeriesNumber");
    snprintf(tr, sizeof tr, "%s%s%s\n%s", number, number[0] != '\0' ? ". " : "",
             attribute(item, "SeriesDescription"), when);
    char wl[128];
    if (item->rgb) {
        snprintf(wl, sizeof wl, "RGB");
    } else if (item->integer) {
        snprintf(wl, sizeof wl, "W: %.0f C: %.0f", item->width, item->center);
    } else {
        snprintf(wl, sizeof wl, "W: %.2f C: %.2f", item->width, item->center);
    }
    size_t index = (size_t)(item - view->items);
    bool readout = view->readout_item == index && view->readout[0] != '\0';
    snprintf(bl, sizeof bl, "%s%sSL: %zu\n%s", readout ? view->readout : "", readout ? "\n" : "",
             item->slice, wl);
    tag_text(item, br, sizeof br);
    draw_text(view, &item->text[0], tl, item->cell, TOP_LEFT);
    draw_text(view, &item->text[1], tr, item->cell, TOP_RIGHT);
    draw_text(view, &item->text[2], bl, item->cell, BOTTOM_LEFT);
    draw_text(view, &item->text[3], br, item->cell, BOTTOM_RIGHT);
    /* orientation letters in the middle of the image's edges, kept inside the cell */
    SDL_Rect r;
    if (!SDL_IntersectRect(&item->rect, &item->cell, &r)) {
        return;
    }
    SDL_Rect right = {r.x + r.w - 40, r.y + r.h / 2 - 10, 40, 20};
    SDL_Rect left = {r.x, r.y + r.h / 2 - 10, 40, 20};
    SDL_Rect top = {r.x + r.w / 2 - 20, r.y, 40, 20};
    SDL_Rect bottom = {r.x + r.w / 2 - 20, r.y + r.h - 24, 40, 24};
    if (imd_header_geometry_defined(imd_series_const_header(item->series))) {
        draw_text(view, &item->text[5], item->letters[0], right, TOP_RIGHT);
        draw_text(view, &item->text[6], item->letters[1], left, TOP_LEFT);
        draw_text(view, &item->text[7], item->letters[2], top, CENTER);
        draw_text(view, &item->text[8], item->letters[3], bottom, CENTER);
    }
}

/* ---- drawing ----------------------------------------------------------- */

static bool draw(ImdError **error, View *view)
{
    layout(view);
    SDL_SetRenderDrawColor(view->renderer, 0, 0, 0, 255);
    SDL_RenderSetClipRect(view->renderer, NULL);
    SDL_RenderClear(view->renderer);
    for (size_t i = view->first; i < view->count; i++) {
        Item *item = &view->items[i];
        if (!item->shown) {
            continue;
        }
        bool ready = plane_ready(item);
        if (!ready) {
            item->texture_valid = false; /* drawn once its image is in */
        } else if (!upload(error, view, item)) {
            return false;
        }
        SDL_RenderSetClipRect(view->renderer, &item->cell);
        if (ready && item->texture != NULL && SDL_HasIntersection(&item->rect, &item->cell)) {
            SDL_RenderCopy(view->renderer, item->texture, NULL, &item->shown_at);
        }
        if (view->text) {
            overlays(view, item);
        }
    }
    SDL_RenderSetClipRect(view->renderer, NULL);
    if (view->count == 0 && view->status[0] != '\0') {
        int width, height;
        SDL_GetRendererOutputSize(view->renderer, &width, &height);
        SDL_Rect all = {0, 0, width, height};
        draw_text(view, &view->status_cache, view->status, all, CENTER);
    }
    view->dirty = false;
    return true;
}

/* The state next to a screenshot, for tests: what is where, with which window. */
static bool write_state(const View *view, const char *path)
{
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        return false;
    }
    int width, height;
    SDL_GetRendererOutputSize(view->renderer, &width, &height);
    fprintf(file, "{\"window\": [%d, %d], \"grid\": [%d, %d], \"first\": %zu, \"count\": %zu, "
            "\"text\": %s, \"cells\": [", width, height, view->grid_rows, view->grid_cols,
            view->first, view->count, view->text ? "true" : "false");
    bool any = false;
    for (size_t i = view->first; i < view->count; i++) {
        const Item *item = &view->items[i];
        if (!item->shown) {
            continue;
        }
        ImdVec3 p = {NAN, NAN, NAN};
        bool has = imd_header_image_position(imd_series_const_header(item->series), item->slice,
                                             &p);
        fprintf(file, "%s\n {\"series\": %zu, \"cell\": [%d, %d, %d, %d], "
                "\"rect\": [%d, %d, %d, %d], \"display\": [%d, %d], \"transpose\": %s, "
                "\"flip_x\": %s, \"flip_y\": %s, \"slice\": %zu, \"slices\": %zu, \"tag\": %zu, "
                "\"tags\": %zu, \"center\": %.17g, \"width\": %.17g, \"min\": %.17g, "
                "\"max\": %.17g, \"letters\": [\"%s\", \"%s\", \"%s\", \"%s\"], "
                "\"zoom\": %.17g",
                any ? "," : "", i, item->cell.x, item->cell.y, item->cell.w, item->cell.h,
                item->rect.x, item->rect.y, item->rect.w, item->rect.h, item->disp_w,
                item->disp_h, item->transpose ? "true" : "false",
                item->flip_x ? "true" : "false", item->flip_y ? "true" : "false", item->slice,
                item->slices, item->tag, item->tags, item->center, item->width,
                isfinite(item->min) ? item->min : 0, isfinite(item->max) ? item->max : 0,
                item->letters[0], item->letters[1], item->letters[2], item->letters[3],
                item->zoom);
        if (has) {
            fprintf(file, ", \"position\": [%.17g, %.17g, %.17g]", p.x, p.y, p.z);
        }
        fputs("}", file);
        any = true;
    }
    fputs("]}\n", file);
    return fclose(file) == 0;
}

/* Draw, read the pixels back, save PREFIXnnn.bmp and PREFIXnnn.json. */
static bool screenshot(ImdError **error, View *view)
{
    if (view->opt->screenshot_prefix == NULL) {
        return true;
    }
    if (!draw(error, view)) {
        return false;
    }
    int width, height;
    SDL_GetRendererOutputSize(view->renderer, &width, &height);
    SDL_Surface *surface =
        SDL_CreateRGBSurfaceWithFormat(0, width, height, 32, SDL_PIXELFORMAT_ARGB8888);
    if (surface == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "viewer: screenshot: %s", SDL_GetError());
        return false;
    }
    char path[4096], tmp[4112];
    unsigned number = view->shot_number++;
    bool ok = SDL_RenderReadPixels(view->renderer, NULL, SDL_PIXELFORMAT_ARGB8888,
                                   surface->pixels, surface->pitch) == 0;
    if (ok) {
        /* written under a temporary name first: a test waiting for the file sees it whole */
        snprintf(path, sizeof path, "%s%03u.json", view->opt->screenshot_prefix, number);
        snprintf(tmp, sizeof tmp, "%s.part", path);
        ok = write_state(view, tmp) && rename(tmp, path) == 0;
        snprintf(path, sizeof path, "%s%03u.bmp", view->opt->screenshot_prefix, number);
        snprintf(tmp, sizeof tmp, "%s.part", path);
        ok = ok && SDL_SaveBMP(surface, tmp) == 0 && rename(tmp, path) == 0;
    }
    SDL_FreeSurface(surface);
    if (!ok) {
        imd_error_set(error, IMD_ERR_IO, "viewer: cannot write screenshot %s%03u: %s",
                      view->opt->screenshot_prefix, number, SDL_GetError());
        return false;
    }
    report(view, "screenshot %s", path);
    SDL_RenderPresent(view->renderer);
    return true;
}

/* ---- input ------------------------------------------------------------- */

static Item *active_item(View *view)
{
    size_t at = item_at(view, view->mouse_x, view->mouse_y);
    if (at != SIZE_MAX) {
        view->active = at;
    }
    if (view->active < view->first || view->active >= view->count ||
        !view->items[view->active].shown) {
        view->active = view->first;
    }
    return view->active < view->count ? &view->items[view->active] : NULL;
}

/* Move the slice and tag of the active series, or of every one when linked. */
static void step(View *view, long dslice, long dtag)
{
    Item *active = active_item(view);
    if (active == NULL) {
        return;
    }
    long slice = (long)active->slice + dslice, tag = (long)active->tag + dtag;
    for (size_t i = 0; i < view->count; i++) {
        Item *item = &view->items[i];
        if (item == active) {
            set_slice_tag(item, slice, tag);
        } else if (view->opt->link) {
            set_slice_tag(item, dslice != 0 ? slice : (long)item->slice,
                          dtag != 0 ? tag : (long)item->tag);
        }
    }
    view->dirty = true;
}

static void page_to(View *view, long first)
{
    if (view->count == 0) {
        return;
    }
    if (first > (long)view->count - 1) {
        first = (long)view->count - 1;
    }
    view->first = first < 0 ? 0 : (size_t)first;
    view->dirty = true;
}

static void readout(View *view)
{
    view->readout[0] = '\0';
    size_t at = item_at(view, view->mouse_x, view->mouse_y);
    if (at == SIZE_MAX) {
        return;
    }
    Item *item = &view->items[at];
    if (item->rect.w <= 0 || item->rect.h <= 0 || !plane_ready(item)) {
        return;
    }
    double fx = (view->mouse_x - item->rect.x + 0.5) / item->rect.w * item->disp_w;
    double fy = (view->mouse_y - item->rect.y + 0.5) / item->rect.h * item->disp_h;
    if (fx < 0 || fy < 0 || fx >= item->disp_w || fy >= item->disp_h) {
        return;
    }
    int u = (int)fx, v = (int)fy;
    if (item->flip_x) {
        u = item->disp_w - 1 - u;
    }
    if (item->flip_y) {
        v = item->disp_h - 1 - v;
    }
    size_t r = (size_t)(item->transpose ? u : v), c = (size_t)(item->transpose ? v : u);
    size_t index = plane_offset(item) + r * item->cols + c;
    const void *data = imd_series_const_data(item->series);
    char value[96];
    if (item->rgb) {
        const uint8_t *p = (const uint8_t *)data + 3 * index;
        snprintf(value, sizeof value, "(%u, %u, %u)", p[0], p[1], p[2]);
    } else if (imd_dtype_is_complex(item->dtype)) {
        const double re = item->dtype == IMD_DTYPE_COMPLEX64
                              ? ((const float *)data)[2 * index]
                              : ((const double *)data)[2 * index];
        const double im = item->dtype == IMD_DTYPE_COMPLEX64
                              ? ((const float *)data)[2 * index + 1]
                              : ((const double *)data)[2 * index + 1];
        snprintf(value, sizeof value, "%.6g%+.6gi", re, im);
    } else {
        snprintf(value, sizeof value, "%.10g", voxel(data, item->dtype, index));
    }
    ImdMat4 m;
    imd_header_transform(imd_series_const_header(item->series), &m);
    double p[3];
    for (int k = 0; k < 3; k++) {
        p[k] = m.m[k][0] * (double)c + m.m[k][1] * (double)r + m.m[k][2] * (double)item->slice +
               m.m[k][3];
    }
    snprintf(view->readout, sizeof view->readout,
             "%s at [%zu, %zu, %zu, %zu]\n(%.1f, %.1f, %.1f) mm", value, item->tag, item->slice,
             r, c, p[0], p[1], p[2]);
    view->readout_item = at;
}

static void handle_key(ImdError **error, View *view, SDL_Keycode key, Uint16 mod)
{
    bool ctrl = (mod & KMOD_CTRL) != 0;
    size_t per_page = (size_t)(view->grid_rows * view->grid_cols);
    switch (key) {
    case SDLK_q:
    case SDLK_ESCAPE:
        view->quit = true;
        break;
    case SDLK_UP:
        if (ctrl) {
            page_to(view, (long)view->first - view->grid_cols);
        } else {
            step(view, 1, 0);
        }
        break;
    case SDLK_DOWN:
        if (ctrl) {
            page_to(view, (long)view->first + view->grid_cols);
        } else {
            step(view, -1, 0);
        }
        break;
    case SDLK_RIGHT:
        if (ctrl) {
            page_to(view, (long)view->first + 1);
        } else {
            step(view, 0, 1);
        }
        break;
    case SDLK_LEFT:
        if (ctrl) {
            page_to(view, (long)view->first - 1);
        } else {
            step(view, 0, -1);
        }
        break;
    case SDLK_PAGEDOWN:
        if (view->first + per_page < view->count) {
            page_to(view, (long)(view->first + per_page));
        }
        break;
    case SDLK_PAGEUP:
        page_to(view, view->first >= per_page ? (long)(view->first - per_page) : 0);
        break;
    case SDLK_HOME:
        if (ctrl) {
            page_to(view, 0);
        }
        break;
    case SDLK_END:
        if (ctrl && view->count > 0) {
            page_to(view, (long)((view->count - 1) / per_page * per_page));
        }
        break;
    case SDLK_h:
        view->text = !view->text;
        view->dirty = true;
        break;
    case SDLK_w: {
        Item *item = active_item(view);
        if (item != NULL) {
            window_from_histogram(item);
            view->dirty = true;
        }
        break;
    }
    case SDLK_r: { /* back to the whole image, unzoomed */
        Item *item = active_item(view);
        if (item != NULL) {
            item->zoom = 1, item->pan_x = item->pan_y = 0;
            view->dirty = true;
        }
        break;
    }
    case SDLK_F12:
        (void)screenshot(error, view);
        break;
    default:
        break;
    }
}

static void handle_event(ImdError **error, View *view, const SDL_Event *event)
{
    switch (event->type) {
    case SDL_QUIT:
        view->quit = true;
        break;
    case SDL_WINDOWEVENT:
        view->dirty = true;
        break;
    case SDL_KEYDOWN:
        handle_key(error, view, event->key.keysym.sym, event->key.keysym.mod);
        break;
    case SDL_MOUSEWHEEL: {
        int y = event->wheel.y;
        if (event->wheel.direction == SDL_MOUSEWHEEL_FLIPPED) {
            y = -y;
        }
        if (y != 0) {
            step(view, y, 0);
        }
        break;
    }
    case SDL_MOUSEBUTTONDOWN: {
        view->mouse_x = event->button.x, view->mouse_y = event->button.y;
        size_t at = item_at(view, view->mouse_x, view->mouse_y);
        if (at == SIZE_MAX) {
            break;
        }
        Item *item = &view->items[at];
        view->active = at;
        view->drag_item = at;
        view->drag_button = event->button.button;
        view->drag_x0 = event->button.x, view->drag_y0 = event->button.y;
        if (view->drag_button == SDL_BUTTON_LEFT) {
            view->drag_a = item->center, view->drag_b = item->width;
        } else if (view->drag_button == SDL_BUTTON_RIGHT) {
            view->drag_a = item->zoom;
        } else {
            view->drag_a = item->pan_x, view->drag_b = item->pan_y;
        }
        break;
    }
    case SDL_MOUSEBUTTONUP:
        view->drag_button = 0;
        break;
    case SDL_MOUSEMOTION: {
        view->mouse_x = event->motion.x, view->mouse_y = event->motion.y;
        if (view->drag_button != 0 && view->drag_item < view->count) {
            Item *item = &view->items[view->drag_item];
            double dx = event->motion.x - view->drag_x0, dy = event->motion.y - view->drag_y0;
            if (view->drag_button == SDL_BUTTON_LEFT && !item->rgb) {
                /*
                 * The original's sensitivity (behaviour.md §9): level moves by
                 * (max - min) / 100 per pixel to the right, the window widens by
                 * as much per pixel up (matplotlib's y grows upwards, SDL's down).
                 */
                double range = item->max - item->min;
                if (!(range > 0)) {
                    range = 1;
                }
                set_window(item, view->drag_a + dx * range / 100,
                           view->drag_b - dy * range / 100);
            } else if (view->drag_button == SDL_BUTTON_RIGHT) {
                double zoom = view->drag_a * exp(-dy / 200.0); /* drag up to zoom in */
                item->zoom = zoom < 0.1 ? 0.1 : zoom > 50 ? 50 : zoom;
            } else if (view->drag_button == SDL_BUTTON_MIDDLE) {
                item->pan_x = view->drag_a + dx, item->pan_y = view->drag_b + dy;
            }
        }
        readout(view);
        view->dirty = true;
        break;
    }
    default:
        break;
    }
}

/* ---- scripted input ---------------------------------------------------- */

static bool replay_step(ImdError **error, View *view, const char *token, size_t length)
{
    char text[128];
    if (length >= sizeof text) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: replay step too long: %.*s",
                      (int)length, token);
        return false;
    }
    memcpy(text, token, length);
    text[length] = '\0';
    SDL_Event event;
    memset(&event, 0, sizeof event);
    int a, b, c, d;
    char button[16];
    if (strncmp(text, "key:", 4) == 0) {
        const char *name = text + 4;
        Uint16 mod = 0;
        if (strncmp(name, "ctrl+", 5) == 0) {
            mod = KMOD_LCTRL;
            name += 5;
        }
        SDL_Keycode key = SDL_GetKeyFromName(name);
        if (key == SDLK_UNKNOWN) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: replay: unknown key \"%s\"", name);
            return false;
        }
        event.type = SDL_KEYDOWN;
        event.key.keysym.sym = key;
        event.key.keysym.mod = mod;
        handle_event(error, view, &event);
    } else if (sscanf(text, "wheel:%d", &a) == 1) {
        event.type = SDL_MOUSEWHEEL;
        event.wheel.y = a;
        handle_event(error, view, &event);
    } else if (sscanf(text, "move:%d,%d", &a, &b) == 2) {
        event.type = SDL_MOUSEMOTION;
        event.motion.x = a, event.motion.y = b;
        handle_event(error, view, &event);
    } else if (sscanf(text, "drag:%15[a-z]:%d,%d:%d,%d", button, &a, &b, &c, &d) == 5) {
        Uint8 which = strcmp(button, "left") == 0     ? SDL_BUTTON_LEFT
                      : strcmp(button, "middle") == 0 ? SDL_BUTTON_MIDDLE
                      : strcmp(button, "right") == 0  ? SDL_BUTTON_RIGHT
                                                      : 0;
        if (which == 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: replay: no button \"%s\"", button);
            return false;
        }
        event.type = SDL_MOUSEBUTTONDOWN;
        event.button.button = which, event.button.x = a, event.button.y = b;
        handle_event(error, view, &event);
        memset(&event, 0, sizeof event);
        event.type = SDL_MOUSEMOTION;
        event.motion.x = c, event.motion.y = d;
        handle_event(error, view, &event);
        memset(&event, 0, sizeof event);
        event.type = SDL_MOUSEBUTTONUP;
        event.button.button = which, event.button.x = c, event.button.y = d;
        handle_event(error, view, &event);
    } else if (strcmp(text, "shot") == 0) {
        return screenshot(error, view);
    } else if (strcmp(text, "quit") == 0) {
        view->quit = true;
    } else {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: replay: unknown step \"%s\"", text);
        return false;
    }
    return imd_error_code(*error) == 0;
}

/* ---- background reading ------------------------------------------------ */

struct Reader {
    SDL_mutex *lock;
    SDL_Thread *thread;
    Uint32 event;
    ImdContext *context;
    const char *const *urls;
    size_t url_count;
    const ImdOptions *options;
    ImdSeries **pending;
    size_t pending_count, pending_capacity;
    char stage[96];
    size_t done, total;
    bool finished;
    ImdSeriesList *result; /* the read's failures */
    ImdError *error;
    /*
     * The series being decoded (fill_watch), shown as a preview before the
     * read hands it over: set and cleared under `lock`; `ready` is written
     * by the read's threads (atomically) while it is set.
     */
    const ImdSeries *filling;
    atomic_uchar *ready;
    atomic_size_t filled;
    size_t images;
};

/* A preview's place, kept for the series when the read hands it over. */
typedef struct Kept {
    const ImdSeries *series;
    size_t slice, tag;
    double zoom, pan_x, pan_y;
} Kept;

static void wake(const Reader *reader)
{
    SDL_Event event;
    memset(&event, 0, sizeof event);
    event.type = reader->event;
    (void)SDL_PushEvent(&event);
}

static bool reader_take(ImdError **error, void *user, ImdSeries *series)
{
    Reader *reader = user;
    SDL_LockMutex(reader->lock);
    if (reader->pending_count == reader->pending_capacity) {
        size_t capacity = reader->pending_capacity ? 2 * reader->pending_capacity : 8;
        ImdSeries **grown = realloc(reader->pending, capacity * sizeof *grown);
        if (grown == NULL) {
            SDL_UnlockMutex(reader->lock);
            imd_series_destroy(series);
            imd_error_set(error, IMD_ERR_NOMEM, "viewer: out of memory for the series list");
            return false;
        }
        reader->pending = grown;
        reader->pending_capacity = capacity;
    }
    reader->pending[reader->pending_count++] = series;
    SDL_UnlockMutex(reader->lock);
    wake(reader);
    return true;
}

static void reader_progress(void *user, const char *stage, size_t done, size_t total)
{
    Reader *reader = user;
    SDL_LockMutex(reader->lock);
    snprintf(reader->stage, sizeof reader->stage, "%s", stage);
    reader->done = done, reader->total = total;
    SDL_UnlockMutex(reader->lock);
    wake(reader);
}

/*
 * The library's fill watch (imd_context_set_fill_watch): a series being
 * decoded becomes a preview; ENDED waits for `lock`, which the loop holds
 * while it uses a preview, so that the series is never touched after it.
 */
static void fill_watch(void *user, ImdFillEvent event, const ImdSeries *series, size_t image)
{
    Reader *reader = user;
    if (event == IMD_FILL_IMAGE) {
        if (series == reader->filling && image < reader->images) {
            atomic_store(&reader->ready[image], 1);
            size_t filled = atomic_fetch_add(&reader->filled, 1) + 1;
            if (filled == 1 || filled % 32 == 0) {
                wake(reader);
            }
        }
        return;
    }
    SDL_LockMutex(reader->lock);
    free(reader->ready);
    reader->ready = NULL;
    reader->filling = NULL;
    reader->images = 0;
    size_t ndim = imd_series_ndim(series), plane = 1;
    for (size_t d = ndim >= 2 ? ndim - 2 : 0; d < ndim; d++) {
        plane *= imd_series_dim(series, d);
    }
    if (event == IMD_FILL_STARTED && ndim >= 2 && plane > 0) {
        size_t images = imd_series_count(series) / plane;
        reader->ready = calloc(images > 0 ? images : 1, sizeof *reader->ready);
        if (reader->ready != NULL) { /* else no preview: the series comes whole */
            reader->filling = series;
            reader->images = images;
            atomic_store(&reader->filled, 0);
        }
    }
    SDL_UnlockMutex(reader->lock);
    wake(reader);
}

static int reader_run(void *user)
{
    Reader *reader = user;
    ImdError *error = NULL;
    ImdSeriesList *result = imd_read_each(&error, reader->context, reader->urls,
                                          reader->url_count, reader->options, reader_take,
                                          reader);
    SDL_LockMutex(reader->lock);
    reader->result = result;
    reader->error = error;
    reader->finished = true;
    SDL_UnlockMutex(reader->lock);
    wake(reader);
    return 0;
}

/* ---- the loop ---------------------------------------------------------- */

static bool add_item(ImdError **error, View *view, ImdSeries *series,
                     const atomic_uchar *ready)
{
    if (view->count == view->capacity) {
        size_t capacity = view->capacity ? 2 * view->capacity : 8;
        Item *grown = realloc(view->items, capacity * sizeof *grown);
        if (grown == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "viewer: out of memory");
            return false;
        }
        view->items = grown;
        view->capacity = capacity;
    }
    if (!item_init(error, &view->items[view->count], series, ready)) {
        item_free(&view->items[view->count]);
        return false;
    }
    view->count++;
    view->dirty = true;
    return true;
}

static double now_ms(void)
{
    return (double)SDL_GetPerformanceCounter() * 1000.0 / (double)SDL_GetPerformanceFrequency();
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* --bench: redraw `frames` times, each on the next slice, and report the times. */
static bool bench(ImdError **error, View *view)
{
    unsigned frames = view->opt->bench_frames ? view->opt->bench_frames : 200;
    double *times = malloc(2 * frames * sizeof *times), *draws = times + frames;
    if (times == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "viewer: out of memory for the bench");
        return false;
    }
    double sum = 0, draw_sum = 0;
    for (unsigned f = 0; f < frames; f++) {
        for (size_t i = view->first; i < view->count; i++) {
            Item *item = &view->items[i];
            set_slice_tag(item, item->slice + 1 < item->slices ? (long)item->slice + 1 : 0,
                          (long)item->tag);
            item->texture_valid = false; /* one slice: redraw all the same */
        }
        double t0 = now_ms();
        if (!draw(error, view)) {
            free(times);
            return false;
        }
        draws[f] = now_ms() - t0; /* our part: window, texture, copies, text */
        SDL_RenderPresent(view->renderer);
        times[f] = now_ms() - t0;
        sum += times[f];
        draw_sum += draws[f];
        SDL_PumpEvents();
    }
    qsort(times, frames, sizeof *times, compare_double);
    qsort(draws, frames, sizeof *draws, compare_double);
    size_t shown = 0, pixels = 0;
    for (size_t i = view->first; i < view->count; i++) {
        if (view->items[i].shown) {
            shown++;
            pixels += (size_t)view->items[i].disp_w * (size_t)view->items[i].disp_h;
        }
    }
    SDL_RendererInfo info;
    SDL_GetRendererInfo(view->renderer, &info);
    report(view, "bench: driver %s, renderer %s, %zu viewport(s) (%d x %d grid), "
           "%zu image pixels per frame", SDL_GetCurrentVideoDriver(), info.name, shown,
           view->grid_rows, view->grid_cols, pixels);
    report(view, "bench: %u frames (slice change + window + upload + draw + present): "
           "median %.2f ms, mean %.2f ms, p95 %.2f ms, max %.2f ms", frames,
           times[frames / 2], sum / frames, times[(size_t)(0.95 * (frames - 1))],
           times[frames - 1]);
    report(view, "bench: of which drawing (before present): median %.2f ms, mean %.2f ms, "
           "p95 %.2f ms, max %.2f ms", draws[frames / 2], draw_sum / frames,
           draws[(size_t)(0.95 * (frames - 1))], draws[frames - 1]);
    free(times);
    view->quit = true;
    return true;
}

/* The preview item, or SIZE_MAX. */
static size_t preview_index(const View *view)
{
    for (size_t i = 0; i < view->count; i++) {
        if (view->items[i].ready != NULL) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Drop item `i` (a preview: its series is not ours), keeping its place in `kept`. */
static void drop_preview(View *view, size_t i, Kept *kept)
{
    Item *item = &view->items[i];
    if (kept != NULL) {
        *kept = (Kept){item->series, item->slice, item->tag, item->zoom, item->pan_x,
                       item->pan_y};
    }
    item_free(item);
    memmove(item, item + 1, (view->count - i - 1) * sizeof *item);
    view->count--;
    view->dirty = true;
}

/*
 * With reader->lock held: the preview follows the series being decoded. It
 * appears once the image the viewer starts on (the middle slice of the
 * first volume, which the reader decodes first) is in, and goes when the
 * decoding ends (the read then hands the series over, or drops it).
 */
static bool follow_preview(ImdError **error, View *view, Kept *kept)
{
    Reader *reader = view->reader;
    size_t at = preview_index(view);
    if (at != SIZE_MAX && view->items[at].series != reader->filling) {
        drop_preview(view, at, kept);
        at = SIZE_MAX;
    }
    if (at == SIZE_MAX && reader->filling != NULL && atomic_load(&reader->filled) > 0) {
        /* the series is the read's; the viewer only reads it until ENDED */
        if (!add_item(error, view, (ImdSeries *)(uintptr_t)reader->filling, reader->ready)) {
            return false;
        }
        Item *item = &view->items[view->count - 1];
        if (!plane_ready(item)) {
            drop_preview(view, view->count - 1, NULL); /* not its first image yet */
        }
    } else if (at != SIZE_MAX) {
        view->dirty = true; /* more of it may be in */
    }
    return true;
}

/* A series handed over after its preview: where the preview was. */
static void restore_place(Item *item, const Kept *kept)
{
    if (kept->series == item->series) {
        set_slice_tag(item, (long)kept->slice, (long)kept->tag);
        item->zoom = kept->zoom, item->pan_x = kept->pan_x, item->pan_y = kept->pan_y;
    }
}

/* The loop's state between iterations (run). */
typedef struct Loop {
    const char *replay;
    double start, first_frame, first_image, read_done;
    bool reading; /* this thread's view of reader->finished */
    Kept kept;
} Loop;

typedef enum Next { NEXT_WAIT, NEXT_AGAIN, NEXT_BENCH, NEXT_FAIL } Next;

/* Take what the reader has finished (reader->lock held); false on a failure. */
static bool take_series(ImdError **error, View *view, Loop *loop, bool *again)
{
    Reader *reader = view->reader;
    *again = false;
    while (reader->pending_count > 0) {
        ImdSeries *series = reader->pending[0];
        memmove(reader->pending, reader->pending + 1,
                --reader->pending_count * sizeof *reader->pending);
        if (!add_item(error, view, series, NULL)) {
            imd_series_destroy(series);
            return false;
        }
        restore_place(&view->items[view->count - 1], &loop->kept);
    }
    if (reader->total > 0) {
        snprintf(view->status, sizeof view->status, "%s %zu/%zu", reader->stage, reader->done,
                 reader->total);
    }
    if (!follow_preview(error, view, &loop->kept)) {
        return false;
    }
    if (reader->finished) {
        SDL_UnlockMutex(reader->lock); /* the thread may wait for it to end */
        SDL_WaitThread(reader->thread, NULL);
        SDL_LockMutex(reader->lock);
        reader->thread = NULL;
        if (reader->pending_count > 0) {
            *again = true; /* take the rest first */
            return true;
        }
        loop->reading = false;
        loop->read_done = now_ms();
        if (view->count == 0) {
            return false; /* the caller reports the read's error */
        }
    }
    view->dirty = true;
    return true;
}

/* One turn of the loop before waiting for events (reader->lock held while reading). */
static Next turn(ImdError **error, View *view, Loop *loop)
{
    Reader *reader = view->reader;
    if (loop->reading) {
        bool again;
        if (!take_series(error, view, loop, &again)) {
            return NEXT_FAIL;
        }
        if (again) {
            return NEXT_AGAIN;
        }
    }
    if (reader != NULL && imd_context_cancelled(reader->context)) {
        imd_error_set(error, IMD_ERR_CANCELLED, "viewer: cancelled");
        return NEXT_FAIL;
    }
    if (view->dirty) {
        if (!draw(error, view)) {
            return NEXT_FAIL;
        }
        SDL_RenderPresent(view->renderer);
        if (loop->first_frame < 0) {
            loop->first_frame = now_ms();
        }
        if (loop->first_image < 0 && view->count > 0) {
            loop->first_image = now_ms(); /* a preview's first image counts */
        }
    }
    bool ready = !loop->reading;
    if (ready && loop->replay != NULL) {
        while (*loop->replay == ' ') {
            loop->replay++;
        }
        size_t length = strcspn(loop->replay, " ");
        if (length == 0) {
            loop->replay = NULL;
        } else {
            if (!replay_step(error, view, loop->replay, length)) {
                return NEXT_FAIL;
            }
            loop->replay += length;
            return NEXT_AGAIN;
        }
    }
    return ready && view->opt->bench ? NEXT_BENCH : NEXT_WAIT;
}

/* Handle the events that came (reader->lock held while reading: a preview may be hit). */
static bool handle_events(ImdError **error, View *view, Loop *loop, SDL_Event *event)
{
    if (loop->reading && !follow_preview(error, view, &loop->kept)) {
        return false; /* a preview whose decoding ended goes before any event */
    }
    do {
        handle_event(error, view, event);
        if (imd_error_code(*error) != 0) {
            return false;
        }
    } while (SDL_PollEvent(event));
    return true;
}

static bool run(ImdError **error, View *view)
{
    Reader *reader = view->reader;
    Loop loop = {.replay = view->opt->replay, .start = now_ms(), .first_frame = -1,
                 .first_image = -1, .reading = reader != NULL};
    loop.read_done = reader == NULL ? loop.start : -1;
    while (!view->quit) {
        bool held = loop.reading;
        if (held) {
            SDL_LockMutex(reader->lock);
        }
        Next next = turn(error, view, &loop);
        if (held) {
            SDL_UnlockMutex(reader->lock);
        }
        if (next == NEXT_FAIL) {
            return false;
        }
        if (next == NEXT_AGAIN) {
            continue;
        }
        if (next == NEXT_BENCH) {
            report(view, "bench: first frame (progress) after %.1f ms, first image on screen "
                   "after %.1f ms, read complete after %.1f ms", loop.first_frame - loop.start,
                   loop.first_image - loop.start, loop.read_done - loop.start);
            return bench(error, view);
        }
        SDL_Event event;
        if (SDL_WaitEventTimeout(&event, 100)) {
            held = loop.reading;
            if (held) {
                SDL_LockMutex(reader->lock);
            }
            bool ok = handle_events(error, view, &loop, &event);
            if (held) {
                SDL_UnlockMutex(reader->lock);
            }
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

static bool open_display(ImdError **error, View *view)
{
    /* The CLI's own SIGINT handling stays in charge (imd_context_cancel). */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "0"); /* nearest: each voxel a block */
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "viewer: no display: %s", SDL_GetError());
        return false;
    }
    /*
     * With no display SDL falls back to its offscreen driver: a window nobody
     * sees would wait for input for ever. Without a display the viewer runs
     * only when asked to (SDL_VIDEODRIVER=offscreen or dummy, for tests).
     */
    const char *driver = SDL_GetCurrentVideoDriver();
    const char *asked = SDL_getenv("SDL_VIDEODRIVER");
    if (driver != NULL && (strcmp(driver, "offscreen") == 0 || strcmp(driver, "dummy") == 0) &&
        (asked == NULL || asked[0] == '\0')) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "viewer: no display to show on (DISPLAY and "
                      "WAYLAND_DISPLAY are unset; SDL chose its \"%s\" driver); set "
                      "SDL_VIDEODRIVER=offscreen or dummy to run without one", driver);
        SDL_Quit();
        return false;
    }
    const ImdViewOptions *opt = view->opt;
    view->window = SDL_CreateWindow(opt->title != NULL ? opt->title : "imagedata viewer",
                                    SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                                    opt->width > 0 ? opt->width : 1024,
                                    opt->height > 0 ? opt->height : 768,
                                    SDL_WINDOW_SHOWN | SDL_WINDOW_RESIZABLE);
    if (view->window != NULL) {
        view->renderer = SDL_CreateRenderer(view->window, -1, 0);
        if (view->renderer == NULL) {
            view->renderer = SDL_CreateRenderer(view->window, -1, SDL_RENDERER_SOFTWARE);
        }
    }
    if (view->renderer == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "viewer: cannot open a window: %s",
                      SDL_GetError());
        return false;
    }
    if (TTF_Init() == 0) {
        const char *path = opt->font_path != NULL ? opt->font_path : DEFAULT_FONT;
        view->font = TTF_OpenFont(path, 13);
        if (view->font == NULL) {
            report(view, "warning: no text overlays: cannot open the font %s: %s", path,
                   TTF_GetError());
        }
    } else {
        report(view, "warning: no text overlays: %s", TTF_GetError());
    }
    view->text = true;
    view->dirty = true;
    snprintf(view->status, sizeof view->status, "reading");
    return true;
}

static void close_display(View *view)
{
    for (size_t i = 0; i < view->count; i++) {
        item_free(&view->items[i]);
    }
    free(view->items);
    text_cache_clear(&view->status_cache);
    if (view->font != NULL) {
        TTF_CloseFont(view->font);
    }
    if (TTF_WasInit()) {
        TTF_Quit();
    }
    if (view->renderer != NULL) {
        SDL_DestroyRenderer(view->renderer);
    }
    if (view->window != NULL) {
        SDL_DestroyWindow(view->window);
    }
    SDL_Quit();
}

static void store_windows(View *view, ImdViewWindow windows[])
{
    for (size_t i = 0; i < view->count; i++) {
        Item *item = &view->items[i];
        if (!item->rgb) {
            imd_header_set_window(imd_series_header(item->series), item->center, item->width);
        }
        if (windows != NULL) {
            windows[i].center = item->center;
            windows[i].width = item->width;
        }
    }
}

bool imd_view(ImdError **error, ImdSeries *const series[], size_t count,
              const ImdViewOptions *options, ImdViewWindow windows[])
{
    ImdViewOptions defaults;
    memset(&defaults, 0, sizeof defaults);
    if (series == NULL || count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: no series to show");
        return false;
    }
    View view;
    memset(&view, 0, sizeof view);
    view.opt = options != NULL ? options : &defaults;
    ImdError *local = NULL; /* the loop tests it: the caller's may be NULL */
    bool ok = open_display(&local, &view);
    for (size_t i = 0; ok && i < count; i++) {
        ok = series[i] != NULL ? add_item(&local, &view, series[i], NULL)
                               : (imd_error_set(&local, IMD_ERR_INVALID_ARG,
                                                "viewer: series %zu is NULL", i),
                                  false);
    }
    ok = ok && run(&local, &view);
    if (ok) {
        store_windows(&view, windows);
    }
    close_display(&view);
    if (ok) {
        imd_error_clear(&local);
    } else {
        imd_error_propagate(error, local);
    }
    return ok;
}

bool imd_view_urls(ImdError **error, ImdContext *context, const char *const urls[],
                   size_t url_count, const ImdOptions *read_options,
                   const ImdViewOptions *options, ImdSeriesList **read)
{
    ImdViewOptions defaults;
    memset(&defaults, 0, sizeof defaults);
    if (read != NULL) {
        *read = NULL;
    }
    if (urls == NULL || url_count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "viewer: no input given");
        return false;
    }
    ImdContext *own = NULL;
    if (context == NULL && (context = own = imd_context_create(error)) == NULL) {
        return false;
    }
    ImdError *local = NULL; /* the loop tests it: the caller's may be NULL */
    View view;
    memset(&view, 0, sizeof view);
    view.opt = options != NULL ? options : &defaults;
    Reader reader;
    memset(&reader, 0, sizeof reader);
    reader.context = context;
    reader.urls = urls;
    reader.url_count = url_count;
    reader.options = read_options;
    view.reader = &reader;
    bool ok = open_display(&local, &view);
    if (ok) {
        reader.event = SDL_RegisterEvents(1);
        reader.lock = SDL_CreateMutex();
        ok = reader.event != (Uint32)-1 && reader.lock != NULL;
        if (!ok) {
            imd_error_set(&local, IMD_ERR_NOMEM, "viewer: %s", SDL_GetError());
        }
    }
    if (ok) {
        imd_context_set_progress(context, reader_progress, &reader);
        imd_context_set_fill_watch(context, fill_watch, &reader);
        reader.thread = SDL_CreateThread(reader_run, "imd-view-read", &reader);
        if (reader.thread == NULL) {
            imd_error_set(&local, IMD_ERR_NOMEM, "viewer: no reading thread: %s", SDL_GetError());
            ok = false;
        }
    }
    ok = ok && run(&local, &view);
    if (reader.lock != NULL) {
        /* a preview's series is the read's: never ours to hand over or free */
        SDL_LockMutex(reader.lock);
        for (size_t at; (at = preview_index(&view)) != SIZE_MAX;) {
            drop_preview(&view, at, NULL);
        }
        SDL_UnlockMutex(reader.lock);
    }
    if (reader.thread != NULL) {
        /* the user left before the read ended: stop it */
        bool cancelled = imd_context_cancelled(context);
        imd_context_cancel(context);
        SDL_WaitThread(reader.thread, NULL);
        if (!cancelled) {
            imd_context_reset_cancel(context);
        }
        imd_error_clear(&reader.error);
    }
    if (reader.lock != NULL) {
        imd_context_set_progress(context, NULL, NULL);
        imd_context_set_fill_watch(context, NULL, NULL);
    }
    free(reader.ready);
    if (!ok && local == NULL) {
        /* nothing was read: the read's error */
        if (reader.error != NULL) {
            local = reader.error;
            reader.error = NULL;
        } else {
            imd_error_set(&local, IMD_ERR_NOT_RECOGNIZED, "viewer: no series found");
        }
    }
    imd_error_clear(&reader.error);
    if (ok) {
        store_windows(&view, NULL);
    }
    /* hand the series (and the read's failures) to the caller, or free them */
    ImdSeriesList *list = reader.result;
    for (size_t i = 0; i < view.count; i++) {
        ImdSeries *series = view.items[i].series;
        view.items[i].series = NULL;
        if (!(ok && read != NULL && list != NULL && imd_series_list_add(NULL, list, series))) {
            imd_series_destroy(series);
        }
    }
    for (size_t i = 0; i < reader.pending_count; i++) {
        imd_series_destroy(reader.pending[i]);
    }
    free(reader.pending);
    if (ok && read != NULL) {
        *read = list;
    } else {
        imd_series_list_destroy(list);
    }
    if (reader.lock != NULL) {
        SDL_DestroyMutex(reader.lock);
    }
    close_display(&view);
    imd_context_destroy(own);
    if (ok) {
        imd_error_clear(&local);
    } else {
        imd_error_propagate(error, local);
    }
    return ok;
}
