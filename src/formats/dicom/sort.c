/*
 * sort.c: the DICOM series reader's slice sorting as pure functions
 * (design.md §3.10): one small key per image -> a volume layout. No I/O, no
 * DICOM parsing, no global state; every rejection is IMD_ERR_CANNOT_SORT with
 * the numbers that explain it.
 *
 * The steps, one function each, follow behaviour.md:
 *   1. reject gantry tilt (§3.2)
 *   2. one orientation for the series, checked on every image within
 *      dir_cosine_tolerance (§3.2; §12: the original only looked at the first)
 *   3. each image's distance along the normal, or its SliceLocation (§3.2)
 *   4. slices: distances grouped with slice_tolerance (§12: not exact equality)
 *   5. uniform spacing, naming a missing slice anywhere (§12), or a warning
 *      with accept_uneven_slices (§12: not implemented by the original)
 *   6. the order: given, or chosen by auto (§3.4)
 *   7. per slice, each image's index along each tag dimension and the slice's
 *      axis values (§3.5, with the time component rule)
 *   8. duplicates: an error, or renumbered with accept_duplicate_tag (§3.5)
 *   9. the same number of images in every slice (§3.2)
 *  10. one tag shape for the series; the lowest slice defines the axes (§3.5)
 *  11. the layout: cells (sparse ones empty), tags, axes, positions.
 *
 * Tolerances (choices where the spec gives none):
 *  - numbers (time, triggertime, b, te, fa, user orders) are equal within
 *    1e-9 + 1e-12 * |value|: AcquisitionTime in seconds since midnight keeps
 *    microseconds apart (the 5D echoes are 2.5 ms apart) but float noise is
 *    one value.
 *  - vectors (bvector, the direction of a dti pair) are equal as numpy's
 *    allclose(rtol 1e-3, atol 1e-2) (§3.5); the b of a dti pair is a number.
 *  - values are ordered component by component with the same tolerances,
 *    shorter (the empty b-vector) first, by a stable merge sort (safe with a
 *    tolerant comparison, which qsort is not).
 *  - slice spacing is uniform when every gap is within max(slice_tolerance,
 *    1e-3 * usual gap) of the usual (median) gap; real scanner positions
 *    jitter by about 1e-5 mm.
 */
#include "dicom_format.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EMPTY_CELL UINT32_MAX
#define MAX_DIMS IMD_SORT_MAX_TAGS

#define DEFAULT_SLICE_TOLERANCE 1e-4      /* mm (the original's 1e-4, §12 docs vs code) */
#define DEFAULT_DIR_COSINE_TOLERANCE 1e-4 /* per cosine component */
#define GANTRY_TILT_LIMIT 1e-3            /* degrees: anything larger is a tilt */
#define NUMBER_RTOL 1e-12
#define NUMBER_ATOL 1e-9
#define VECTOR_RTOL 1e-3 /* numpy.allclose as the original (§3.5) */
#define VECTOR_ATOL 1e-2
#define SPACING_RTOL 1e-3 /* gaps within 0.1 % of the usual gap are uniform */
#define MIN_VECTOR_LENGTH 1e-6
#define MAX_CELLS_PER_IMAGE 16 /* sparse layouts up to 16 cells per image */
#define MIN_CELL_LIMIT 4096

/* A slice's axis values for one dimension: pool[offset .. offset + length). */
typedef struct AxisRef {
    size_t offset, length;
} AxisRef;

/* The first duplicate found: for the message. */
typedef struct Duplicate {
    size_t slice, count;
    uint32_t first, second; /* key positions */
} Duplicate;

typedef struct Sorter {
    ImdError **error;
    const ImdSliceKey *keys;
    size_t n;
    const ImdSortOptions *options;
    ImdLayout *layout;
    size_t warning_capacity;
    double slice_tolerance, cosine_tolerance;
    ImdVec3 normal;
    double *distance;       /* per key */
    uint32_t *order;        /* key positions, slice after slice */
    uint32_t *scratch;      /* n: merge sort and index maps */
    size_t *slice_start;    /* slices + 1 entries into order */
    double *slice_distance; /* per slice: its lowest distance */
    size_t slices;
    /* tag dimensions */
    size_t dims;       /* tag dimensions of the layout */
    size_t components; /* those read from the keys (0 for order none) */
    bool none_axis;    /* dims 1, components 0: none's axis of duplicates */
    bool auto_chosen;  /* the order came from auto */
    size_t slot[MAX_DIMS];
    const char *name[MAX_DIMS];
    bool is_time[MAX_DIMS]; /* time or triggertime */
    bool by_rank[MAX_DIMS]; /* slices map onto the axis by rank, not by value */
    bool by_sequence[MAX_DIMS]; /* an image's index is its place in the acquisition sequence */
    bool synthetic[MAX_DIMS];   /* values are index * time_step (no tag tells the volumes apart) */
    uint32_t *index;        /* n * MAX_DIMS: each key's index per dimension */
    ImdValue *pool;         /* n * MAX_DIMS: slice axis values */
    AxisRef *axis;          /* slices * MAX_DIMS */
    size_t shape[MAX_DIMS];
    size_t reference[MAX_DIMS]; /* the slice whose axis values the layout takes */
} Sorter;

/* ---- small helpers ------------------------------------------------------ */

static bool add_warning(Sorter *s, const char *format, ...) IMD_PRINTF(2, 3);

static bool add_warning(Sorter *s, const char *format, ...)
{
    ImdLayout *layout = s->layout;
    if (!imd__grow(s->error, (void **)&layout->warnings, &s->warning_capacity,
                   layout->warning_count + 1, sizeof *layout->warnings)) {
        return false;
    }
    va_list args;
    va_start(args, format);
    char *text = imd__vsprintf(s->error, format, args);
    va_end(args);
    if (text == NULL) {
        return false;
    }
    layout->warnings[layout->warning_count++] = text;
    return true;
}

static size_t slice_size(const Sorter *s, size_t slice)
{
    return s->slice_start[slice + 1] - s->slice_start[slice];
}

static uint32_t *slice_keys(const Sorter *s, size_t slice)
{
    return s->order + s->slice_start[slice];
}

static uint32_t image_number(const Sorter *s, uint32_t key)
{
    return s->keys[key].index;
}

static double dot(ImdVec3 a, ImdVec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

static ImdVec3 cross(ImdVec3 a, ImdVec3 b)
{
    ImdVec3 c = {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
    return c;
}

static bool is_time_order(const char *name)
{
    return strcmp(name, "time") == 0 || strcmp(name, "triggertime") == 0;
}

/* ---- values: comparison with tolerance, and text for messages ------------ */

/* -1, 0 or 1; equal within atol + rtol * max(|a|, |b|); NaN after numbers. */
static int compare_numbers(double a, double b, double rtol, double atol)
{
    bool nan_a = isnan(a), nan_b = isnan(b);
    if (nan_a || nan_b) {
        return nan_a == nan_b ? 0 : (nan_a ? 1 : -1);
    }
    double scale = fmax(fabs(a), fabs(b));
    if (a == b || fabs(a - b) <= atol + rtol * scale) {
        return 0;
    }
    return a < b ? -1 : 1;
}

/*
 * Values of one kind in the original's order: numbers by value; vectors
 * (b-vectors) empty first, then lexicographically from the last component
 * to the first, as the original sorts its z,y,x vectors (behaviour.md §3.5;
 * [O] the first b=500 direction of the RSI series is (0, -0.7064, -0.7078));
 * (b, direction) pairs by b, then their directions the same way.
 */
static int compare_values(const ImdValue *a, const ImdValue *b)
{
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    size_t count_a = a->count < IMD_VALUE_MAX ? a->count : IMD_VALUE_MAX;
    size_t count_b = b->count < IMD_VALUE_MAX ? b->count : IMD_VALUE_MAX;
    size_t first = 0; /* where the direction starts */
    if (a->kind == IMD_VALUE_NUMBER || a->kind == IMD_VALUE_B_VECTOR) {
        int c = compare_numbers(a->v[0], b->v[0], NUMBER_RTOL, NUMBER_ATOL);
        if (c != 0 || a->kind == IMD_VALUE_NUMBER) {
            return c;
        }
        first = 1;
    }
    if (count_a != count_b) {
        return count_a < count_b ? -1 : 1; /* the empty direction first */
    }
    for (size_t i = count_a; i-- > first;) {
        int c = compare_numbers(a->v[i], b->v[i], VECTOR_RTOL, VECTOR_ATOL);
        if (c != 0) {
            return c;
        }
    }
    return 0;
}

static void format_numbers(char *buffer, size_t size, const double *v, size_t count)
{
    size_t used = (size_t)snprintf(buffer, size, "[");
    for (size_t i = 0; i < count && used < size; i++) {
        used += (size_t)snprintf(buffer + used, size - used, "%s%.6g", i ? ", " : "", v[i]);
    }
    if (used < size) {
        snprintf(buffer + used, size - used, "]");
    }
}

/* A value as text: 31337.775, [0, -0.7064, -0.7078], (500, [1, 0, 0]). */
static void format_value(char *buffer, size_t size, const ImdValue *value)
{
    size_t count = value->count < IMD_VALUE_MAX ? value->count : IMD_VALUE_MAX;
    char numbers[96];
    switch (value->kind) {
    case IMD_VALUE_NUMBER:
        snprintf(buffer, size, "%.10g", value->v[0]);
        break;
    case IMD_VALUE_VECTOR:
        format_numbers(buffer, size, value->v, count);
        break;
    case IMD_VALUE_B_VECTOR:
        format_numbers(numbers, sizeof numbers, value->v + 1, count > 0 ? count - 1 : 0);
        snprintf(buffer, size, "(%.10g, %s)", count > 0 ? value->v[0] : 0.0, numbers);
        break;
    default:
        snprintf(buffer, size, "?");
        break;
    }
}

/* ---- a stable merge sort of key positions -------------------------------- */

typedef int (*KeyCompare)(const Sorter *s, uint32_t a, uint32_t b, size_t arg);

static void merge_runs(const Sorter *s, const uint32_t *in, uint32_t *out, size_t low,
                       size_t middle, size_t high, KeyCompare compare, size_t arg)
{
    size_t i = low, j = middle, k = low;
    while (i < middle && j < high) {
        out[k++] = compare(s, in[j], in[i], arg) < 0 ? in[j++] : in[i++];
    }
    while (i < middle) {
        out[k++] = in[i++];
    }
    while (j < high) {
        out[k++] = in[j++];
    }
}

/* Bottom-up, O(m log m); `scratch` holds m entries. */
static void merge_sort(const Sorter *s, uint32_t *items, size_t m, uint32_t *scratch,
                       KeyCompare compare, size_t arg)
{
    uint32_t *in = items, *out = scratch;
    for (size_t width = 1; width < m; width *= 2) {
        for (size_t low = 0; low < m; low += 2 * width) {
            size_t middle = low + width < m ? low + width : m;
            size_t high = low + 2 * width < m ? low + 2 * width : m;
            merge_runs(s, in, out, low, middle, high, compare, arg);
        }
        uint32_t *swap = in;
        in = out;
        out = swap;
    }
    if (in != items) {
        memcpy(items, in, m * sizeof *items);
    }
}

/* ---- the value of a key along a tag dimension --------------------------- */

static ImdValue value_of(const Sorter *s, uint32_t key, size_t d)
{
    if (s->synthetic[d]) {
        double step = s->options->time_step > 0 ? s->options->time_step : 1;
        return imd_value_number(s->index[(size_t)key * MAX_DIMS + d] * step);
    }
    if (s->none_axis) {
        /* order none's duplicate axis: the duplicate's number (§3.5) */
        return imd_value_number((double)s->index[(size_t)key * MAX_DIMS + d]);
    }
    return s->keys[key].tag[s->slot[d]];
}

static int compare_key_numbers(const Sorter *s, uint32_t a, uint32_t b)
{
    uint32_t ia = image_number(s, a), ib = image_number(s, b);
    if (ia != ib) {
        return ia < ib ? -1 : 1;
    }
    return a < b ? -1 : (a > b ? 1 : 0);
}

static int compare_dimension(const Sorter *s, uint32_t a, uint32_t b, size_t d)
{
    ImdValue va = value_of(s, a, d), vb = value_of(s, b, d);
    return compare_values(&va, &vb);
}

static int compare_distance(const Sorter *s, uint32_t a, uint32_t b, size_t arg)
{
    IMD__UNUSED(arg);
    if (s->distance[a] != s->distance[b]) {
        return s->distance[a] < s->distance[b] ? -1 : 1;
    }
    return compare_key_numbers(s, a, b);
}

static int compare_by_value(const Sorter *s, uint32_t a, uint32_t b, size_t d)
{
    int c = compare_dimension(s, a, b, d);
    return c != 0 ? c : compare_key_numbers(s, a, b);
}

/* The components other than `d` (in order), for the time component rule. */
static int compare_others(const Sorter *s, uint32_t a, uint32_t b, size_t d)
{
    for (size_t e = 0; e < s->components; e++) {
        if (e != d) {
            int c = compare_dimension(s, a, b, e);
            if (c != 0) {
                return c;
            }
        }
    }
    return 0;
}

static int compare_time_groups(const Sorter *s, uint32_t a, uint32_t b, size_t d)
{
    int c = compare_others(s, a, b, d);
    return c != 0 ? c : compare_by_value(s, a, b, d);
}

/* The indices of the first `count` dimensions. */
static int compare_index_prefix(const Sorter *s, uint32_t a, uint32_t b, size_t count)
{
    const uint32_t *ia = s->index + (size_t)a * MAX_DIMS, *ib = s->index + (size_t)b * MAX_DIMS;
    for (size_t d = 0; d < count; d++) {
        if (ia[d] != ib[d]) {
            return ia[d] < ib[d] ? -1 : 1;
        }
    }
    return 0;
}

static int compare_indices(const Sorter *s, uint32_t a, uint32_t b, size_t count)
{
    int c = compare_index_prefix(s, a, b, count);
    return c != 0 ? c : compare_key_numbers(s, a, b);
}

/* Renumbering the last dimension: the other indices, its value, the image number. */
static int compare_renumber(const Sorter *s, uint32_t a, uint32_t b, size_t last)
{
    int c = compare_index_prefix(s, a, b, last);
    return c != 0 ? c : compare_by_value(s, a, b, last);
}

/* ---- 1. gantry tilt (§3.2) ----------------------------------------------- */

static bool check_gantry_tilt(Sorter *s)
{
    for (size_t i = 0; i < s->n; i++) {
        double tilt = s->keys[i].gantry_tilt;
        if (!(fabs(tilt) <= GANTRY_TILT_LIMIT)) {
            imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                          "image %u: gantry tilt of %g degrees is not supported "
                          "(GantryDetectorTilt (0018,1120) must be 0)",
                          image_number(s, (uint32_t)i), tilt);
            return false;
        }
    }
    return true;
}

/* ---- 2. orientation, checked on every image (§3.2, §12) ----------------- */

static double orientation_difference(const ImdSliceKey *a, const ImdSliceKey *b)
{
    double d[6] = {a->row.x - b->row.x,       a->row.y - b->row.y,
                   a->row.z - b->row.z,       a->column.x - b->column.x,
                   a->column.y - b->column.y, a->column.z - b->column.z};
    double worst = 0;
    for (size_t i = 0; i < 6; i++) {
        if (!(fabs(d[i]) <= worst)) {
            worst = isnan(d[i]) ? INFINITY : fabs(d[i]);
        }
    }
    return worst;
}

static bool report_orientation_mismatch(Sorter *s, size_t reference, size_t other,
                                        double difference)
{
    const ImdSliceKey *a = &s->keys[reference], *b = &s->keys[other];
    imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                  "image %u has orientation row (%.6g, %.6g, %.6g) column (%.6g, %.6g, %.6g), "
                  "image %u has row (%.6g, %.6g, %.6g) column (%.6g, %.6g, %.6g): they differ "
                  "by %.3g, more than dir_cosine_tolerance %g; one series holds one orientation",
                  a->index, a->row.x, a->row.y, a->row.z, a->column.x, a->column.y, a->column.z,
                  b->index, b->row.x, b->row.y, b->row.z, b->column.x, b->column.y, b->column.z,
                  difference, s->cosine_tolerance);
    return false;
}

/* The first image with an orientation is the reference; every other must match. */
static bool check_orientations(Sorter *s, size_t *reference)
{
    size_t missing = 0;
    *reference = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->keys[i].has_orientation) {
            missing++;
        } else if (*reference == SIZE_MAX) {
            *reference = i;
        } else {
            double difference = orientation_difference(&s->keys[*reference], &s->keys[i]);
            if (difference > s->cosine_tolerance) {
                return report_orientation_mismatch(s, *reference, i, difference);
            }
        }
    }
    if (*reference != SIZE_MAX && missing > 0 &&
        !add_warning(s, "%zu of %zu images have no ImageOrientationPatient (0020,0037); "
                        "they take image %u's", missing, s->n,
                     image_number(s, (uint32_t)*reference))) {
        return false;
    }
    return true;
}

static bool unit_vector(ImdVec3 v, ImdVec3 *unit)
{
    double length = sqrt(dot(v, v));
    if (!(length > MIN_VECTOR_LENGTH) || !isfinite(length)) {
        return false;
    }
    unit->x = v.x / length;
    unit->y = v.y / length;
    unit->z = v.z / length;
    return true;
}

/* The series orientation (unit cosines) and normal = unit row x unit column (§3.2). */
static bool find_orientation(Sorter *s)
{
    size_t reference;
    if (!check_orientations(s, &reference)) {
        return false;
    }
    ImdVec3 row = {1, 0, 0}, column = {0, 1, 0};
    if (reference == SIZE_MAX) {
        if (!add_warning(s, "no image has ImageOrientationPatient (0020,0037): assuming "
                            "row (1, 0, 0), column (0, 1, 0)")) {
            return false;
        }
    } else {
        row = s->keys[reference].row;
        column = s->keys[reference].column;
    }
    ImdVec3 unit_normal;
    bool ok = unit_vector(row, &s->layout->row) && unit_vector(column, &s->layout->column);
    if (!ok || !unit_vector(cross(s->layout->row, s->layout->column), &unit_normal)) {
        imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                      "image %u: ImageOrientationPatient row (%g, %g, %g) column (%g, %g, %g) "
                      "does not define an image plane",
                      reference == SIZE_MAX ? 0u : image_number(s, (uint32_t)reference), row.x,
                      row.y, row.z, column.x, column.y, column.z);
        return false;
    }
    s->normal = cross(s->layout->row, s->layout->column); /* not renormalised (§3.2) */
    return true;
}

/* ---- 3. distances (§3.2) ------------------------------------------------- */

static bool compute_distances(Sorter *s)
{
    size_t missing = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ImdSliceKey *key = &s->keys[i];
        missing += key->has_position ? 0 : 1;
        if (s->options->sort_on_slice_location) {
            if (!key->has_slice_location) {
                imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                              "image %u has no SliceLocation (0020,1041), which "
                              "sort_on_slice_location needs", key->index);
                return false;
            }
            s->distance[i] = key->slice_location;
        } else {
            s->distance[i] = dot(s->normal, key->position);
        }
        if (!isfinite(s->distance[i])) {
            imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                          "image %u: its slice position is not a finite number", key->index);
            return false;
        }
    }
    if (missing > 0 &&
        !add_warning(s, "%zu of %zu images have no ImagePositionPatient (0020,0032); "
                        "they count as (0, 0, 0)", missing, s->n)) {
        return false;
    }
    return true;
}

/* ---- 4. slices: distances within slice_tolerance of a slice's first (§12) */

static void group_slices(Sorter *s)
{
    for (size_t i = 0; i < s->n; i++) {
        s->order[i] = (uint32_t)i;
    }
    merge_sort(s, s->order, s->n, s->scratch, compare_distance, 0);
    s->slices = 0;
    double first = 0;
    for (size_t i = 0; i < s->n; i++) {
        double d = s->distance[s->order[i]];
        if (i == 0 || d - first > s->slice_tolerance) {
            first = d;
            s->slice_distance[s->slices] = d;
            s->slice_start[s->slices++] = i;
        }
    }
    s->slice_start[s->slices] = s->n;
}

/* ---- 5. uniform spacing; a missing slice anywhere (§3.2, §12) ------------ */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* The usual gap: the lower median, so one odd gap cannot set it. */
static bool usual_gap(Sorter *s, double *gap)
{
    size_t count = s->slices - 1;
    double *gaps = imd__malloc(s->error, count * sizeof *gaps);
    if (gaps == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        gaps[i] = s->slice_distance[i + 1] - s->slice_distance[i];
    }
    qsort(gaps, count, sizeof *gaps, compare_doubles);
    *gap = gaps[(count - 1) / 2];
    free(gaps);
    return true;
}

/* The message for the gap between slices i-1 and i, odd ones of `odd`. */
static char *describe_gap(Sorter *s, size_t i, double usual, double tolerance, size_t odd)
{
    double gap = s->slice_distance[i] - s->slice_distance[i - 1];
    double multiple = round(gap / usual);
    if (multiple >= 2 && fabs(gap - multiple * usual) <= tolerance * multiple) {
        return imd__sprintf(s->error,
                            "slices %zu and %zu are %.6g mm apart (at %.4f and %.4f mm), the "
                            "others %.6g mm: %.0f missing slice%s? (%zu of %zu gaps differ)",
                            i - 1, i, gap, s->slice_distance[i - 1], s->slice_distance[i], usual,
                            multiple - 1, multiple > 2 ? "s" : "", odd, s->slices - 1);
    }
    return imd__sprintf(s->error,
                        "slice spacing varies: slices %zu and %zu are %.6g mm apart (at %.4f and "
                        "%.4f mm), the others %.6g mm (tolerance %.3g mm; %zu of %zu gaps differ)",
                        i - 1, i, gap, s->slice_distance[i - 1], s->slice_distance[i], usual,
                        tolerance, odd, s->slices - 1);
}

/*
 * The step between uniform slices is a whole multiple (2 or more) of the
 * spacing the files state: slices are missing at regular places, or only two
 * slices of a volume are left. Against SpacingBetweenSlices that is an error;
 * against SliceThickness only a warning, and only when the gaps cannot tell
 * (two slices): gapped acquisitions are normal.
 */
static bool check_nominal_spacing(Sorter *s, double step)
{
    double nominal = s->options->nominal_spacing;
    bool thickness = s->options->nominal_is_thickness;
    if (!(nominal > 0) || (thickness && s->slices > 2)) {
        return true;
    }
    double multiple = round(step / nominal);
    if (multiple < 2 || fabs(step - multiple * nominal) > fmax(s->slice_tolerance, 1e-2 * nominal)) {
        return true;
    }
    const char *what = thickness ? "SliceThickness" : "SpacingBetweenSlices";
    char *message = imd__sprintf(s->error, "slices are %.6g mm apart, %.0f times the %s of "
                                           "%.6g mm: %s missing?", step, multiple, what, nominal,
                                 s->slices == 2 ? "a slice between them" : "slices");
    if (message == NULL) {
        return false;
    }
    bool ok = thickness || s->options->accept_uneven_slices;
    if (ok) {
        ok = add_warning(s, "%s", message);
    } else {
        imd_error_set(s->error, IMD_ERR_CANNOT_SORT, "%s; try accept_uneven_slices", message);
    }
    free(message);
    return ok;
}

static bool check_spacing(Sorter *s)
{
    if (s->slices == 2) {
        return check_nominal_spacing(s, s->slice_distance[1] - s->slice_distance[0]);
    }
    if (s->slices < 3) {
        return true; /* no gap: nothing to compare */
    }
    double usual;
    if (!usual_gap(s, &usual)) {
        return false;
    }
    double tolerance = fmax(s->slice_tolerance, SPACING_RTOL * usual);
    size_t odd = 0, first = 0;
    for (size_t i = 1; i < s->slices; i++) {
        double gap = s->slice_distance[i] - s->slice_distance[i - 1];
        if (fabs(gap - usual) > tolerance && odd++ == 0) {
            first = i;
        }
    }
    if (odd == 0) {
        return check_nominal_spacing(s, usual);
    }
    char *message = describe_gap(s, first, usual, tolerance, odd);
    if (message == NULL) {
        return false;
    }
    bool ok = s->options->accept_uneven_slices;
    if (ok) {
        ok = add_warning(s, "%s (accept_uneven_slices: kept)", message);
    } else {
        imd_error_set(s->error, IMD_ERR_CANNOT_SORT, "%s; try accept_uneven_slices", message);
    }
    free(message);
    return ok;
}

/* ---- 6. the order: given, or auto (§3.4) --------------------------------- */

static void set_component(Sorter *s, size_t d, size_t slot, const char *name)
{
    s->slot[d] = slot;
    s->name[d] = name;
    s->is_time[d] = is_time_order(name);
    s->by_rank[d] = s->is_time[d]; /* times differ from slice to slice */
}

static bool check_names(Sorter *s)
{
    const ImdSortOptions *o = s->options;
    if (o->count > (o->auto_order ? IMD_SORT_MAX_VALUES : MAX_DIMS)) {
        imd_error_set(s->error, IMD_ERR_INVALID_ARG, "%zu order components; at most %d",
                      o->count, MAX_DIMS);
        return false;
    }
    for (size_t d = 0; d < o->count; d++) {
        if (o->names[d] == NULL || o->names[d][0] == '\0') {
            imd_error_set(s->error, IMD_ERR_INVALID_ARG, "order component %zu has no name", d);
            return false;
        }
        if (!o->auto_order && strcmp(o->names[d], "rsi") == 0) {
            imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                          "order rsi is not implemented; use b,bvector or dti");
            return false;
        }
    }
    return true;
}

/* Every image has a value for every component (§3.3: missing values cannot sort). */
static bool check_values_present(Sorter *s)
{
    for (size_t d = 0; d < s->components; d++) {
        for (size_t i = 0; i < s->n && !s->synthetic[d]; i++) {
            if (!s->keys[i].has_tag[s->slot[d]]) {
                imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                              "image %u has no %s value (order %s)", s->keys[i].index,
                              s->name[d], s->layout->order ? s->layout->order : s->name[d]);
                return false;
            }
        }
    }
    return true;
}

static bool given_order(Sorter *s)
{
    const ImdSortOptions *o = s->options;
    if (o->count == 0 || (o->count == 1 && strcmp(o->names[0], "none") == 0)) {
        return true; /* none: one image per slice */
    }
    for (size_t d = 0; d < o->count; d++) {
        if (strcmp(o->names[d], "none") == 0) {
            imd_error_set(s->error, IMD_ERR_INVALID_ARG,
                          "order none cannot be combined with other components");
            return false;
        }
        set_component(s, d, d, o->names[d]);
    }
    s->components = o->count;
    return true;
}

/* Two present values of candidate `c` differ somewhere in the series. */
static bool candidate_varies(const Sorter *s, size_t c)
{
    const ImdValue *first = NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (s->keys[i].has_tag[c]) {
            if (first == NULL) {
                first = &s->keys[i].tag[c];
            } else if (compare_values(first, &s->keys[i].tag[c]) != 0) {
                return true;
            }
        }
    }
    return false;
}

/* The candidate never varies within a slice: it is in 1:1 correspondence
 * with the slices (§3.4: time00's AcquisitionTime), so it is no dimension. */
static bool constant_within_slices(const Sorter *s, size_t c)
{
    for (size_t slice = 0; slice < s->slices; slice++) {
        const uint32_t *keys = slice_keys(s, slice);
        const ImdValue *first = NULL;
        for (size_t i = 0; i < slice_size(s, slice); i++) {
            const ImdSliceKey *key = &s->keys[keys[i]];
            if (!key->has_tag[c]) {
                continue;
            }
            if (first == NULL) {
                first = &key->tag[c];
            } else if (compare_values(first, &key->tag[c]) != 0) {
                return false;
            }
        }
    }
    return true;
}

/* A later varying b or te replaces time/triggertime (DWI times vary, §3.4);
 * acquisition time wins over trigger time when both vary (each volume of a
 * gated series has its own acquisition time; trigger times repeat). */
static bool replaces(const char *chosen, const char *candidate)
{
    return is_time_order(chosen) &&
           (strcmp(candidate, "b") == 0 || strcmp(candidate, "te") == 0);
}

static bool yields_to(const char *chosen, const char *candidate)
{
    return strcmp(chosen, "time") == 0 && strcmp(candidate, "triggertime") == 0;
}

static size_t candidate_slot(const Sorter *s, const char *name)
{
    for (size_t c = 0; c < s->options->count; c++) {
        if (strcmp(s->options->names[c], name) == 0) {
            return c;
        }
    }
    return SIZE_MAX;
}

/* Two images with the same b value but different (b, direction) pairs: several
 * directions per b, a diffusion tensor acquisition. */
static bool several_directions(const Sorter *s, size_t b, size_t dti)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = i + 1; j < s->n; j++) {
            const ImdSliceKey *x = &s->keys[i], *y = &s->keys[j];
            if (x->has_tag[b] && y->has_tag[b] && x->has_tag[dti] && y->has_tag[dti] &&
                compare_values(&x->tag[b], &y->tag[b]) == 0 &&
                compare_values(&x->tag[dti], &y->tag[dti]) != 0) {
                return true;
            }
        }
        if (i > 4096) {
            break; /* the first volumes tell; keeps this linear-ish on huge series */
        }
    }
    return false;
}

static size_t largest_slice(const Sorter *s)
{
    size_t most = 0;
    for (size_t slice = 0; slice < s->slices; slice++) {
        most = slice_size(s, slice) > most ? slice_size(s, slice) : most;
    }
    return most;
}

/* The auto component along the acquisition sequence: dti directions as
 * acquired (the order dcm2niix writes bval/bvec in), or, when no tag tells
 * the volumes apart, a time axis of time_step (GE fMRI: one AcquisitionTime). */
static void set_sequence_component(Sorter *s, size_t slot, const char *name, bool synthetic)
{
    set_component(s, 0, slot, name);
    s->by_sequence[0] = true;
    s->by_rank[0] = true;
    s->synthetic[0] = synthetic;
    s->components = 1;
    s->auto_chosen = true;
}

static bool auto_order(Sorter *s)
{
    const ImdSortOptions *o = s->options;
    size_t chosen = SIZE_MAX;
    for (size_t c = 0; c < o->count; c++) {
        if (strcmp(o->names[c], "dti") == 0 || !candidate_varies(s, c) ||
            (chosen != SIZE_MAX && yields_to(o->names[chosen], o->names[c]))) {
            continue;
        }
        if (chosen == SIZE_MAX || replaces(o->names[chosen], o->names[c])) {
            chosen = c;
        } else {
            imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                          "Cannot auto-sort: both %s and %s vary in this series; give the "
                          "order (e.g. \"%s,%s\")",
                          o->names[chosen], o->names[c], o->names[chosen], o->names[c]);
            return false;
        }
    }
    if (chosen == SIZE_MAX || constant_within_slices(s, chosen)) {
        if (largest_slice(s) > 1) {
            set_sequence_component(s, SIZE_MAX, "time", true);
        }
        return true; /* none, or volumes in acquisition order */
    }
    size_t dti = candidate_slot(s, "dti");
    if (strcmp(o->names[chosen], "b") == 0 && dti != SIZE_MAX && several_directions(s, chosen, dti)) {
        set_sequence_component(s, dti, "dti", false);
        return true;
    }
    set_component(s, 0, chosen, o->names[chosen]);
    s->components = 1;
    s->auto_chosen = true;
    return true;
}

/* The order's text: "time,te", "none". */
static bool name_order(Sorter *s)
{
    ImdText text = {0};
    for (size_t d = 0; d < s->components; d++) {
        imd__text_printf(&text, "%s%s", d ? "," : "", s->name[d]);
    }
    if (s->components == 0) {
        imd__text_puts(&text, "none");
    }
    s->layout->order = imd__text_finish(s->error, &text);
    return s->layout->order != NULL;
}

static bool choose_order(Sorter *s)
{
    if (!check_names(s)) {
        return false;
    }
    bool ok = s->options->auto_order ? auto_order(s) : given_order(s);
    if (!ok || !name_order(s)) {
        return false;
    }
    s->dims = s->components;
    return check_values_present(s);
}

/* ---- 7. per slice: indices and axis values (§3.5) ------------------------ */

static ImdValue *axis_storage(const Sorter *s, size_t slice, size_t d)
{
    return s->pool + MAX_DIMS * s->slice_start[slice] + d * slice_size(s, slice);
}

static void set_axis(Sorter *s, size_t slice, size_t d, size_t length)
{
    AxisRef *ref = &s->axis[slice * MAX_DIMS + d];
    ref->offset = MAX_DIMS * s->slice_start[slice] + d * slice_size(s, slice);
    ref->length = length;
}

static void set_index(Sorter *s, uint32_t key, size_t d, size_t value)
{
    s->index[(size_t)key * MAX_DIMS + d] = (uint32_t)value;
}

static uint32_t get_index(const Sorter *s, uint32_t key, size_t d)
{
    return s->index[(size_t)key * MAX_DIMS + d];
}

/* The axis is the slice's sorted unique values; an image's index is its value's rank. */
static void rank_by_value(Sorter *s, size_t slice, size_t d)
{
    uint32_t *keys = slice_keys(s, slice);
    size_t m = slice_size(s, slice), length = 0;
    merge_sort(s, keys, m, s->scratch, compare_by_value, d);
    ImdValue *axis = axis_storage(s, slice, d);
    for (size_t i = 0; i < m; i++) {
        ImdValue value = value_of(s, keys[i], d);
        if (length == 0 || compare_values(&value, &axis[length - 1]) != 0) {
            axis[length++] = value;
        }
        set_index(s, keys[i], d, length - 1);
    }
    set_axis(s, slice, d, length);
}

/* The time component of a combined order (§3.5): an image's index is its time's
 * rank among the images with the same other components, and the axis holds the
 * times of the images whose other components are minimal (the first group; the
 * first group with the most times when that one is short). So 5D's time axis
 * holds first-echo times while each cell keeps its own. */
static void rank_time_component(Sorter *s, size_t slice, size_t d)
{
    uint32_t *keys = slice_keys(s, slice);
    size_t m = slice_size(s, slice);
    merge_sort(s, keys, m, s->scratch, compare_time_groups, d);
    size_t group = 0, ranks = 0, rank_first = 0, best = 0, best_ranks = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && compare_others(s, keys[group], keys[i], d) != 0) {
            group = i;
            ranks = 0;
        }
        if (ranks == 0 || compare_dimension(s, keys[rank_first], keys[i], d) != 0) {
            rank_first = i;
            ranks++;
        }
        set_index(s, keys[i], d, ranks - 1);
        if (ranks > best_ranks) {
            best = group;
            best_ranks = ranks;
        }
    }
    ImdValue *axis = axis_storage(s, slice, d);
    for (size_t i = best; i < m && compare_others(s, keys[best], keys[i], d) == 0; i++) {
        if (i == best || get_index(s, keys[i], d) != get_index(s, keys[i - 1], d)) {
            axis[get_index(s, keys[i], d)] = value_of(s, keys[i], d);
        }
    }
    set_axis(s, slice, d, best_ranks);
}

static int compare_sequence(const Sorter *s, uint32_t a, uint32_t b, size_t arg)
{
    IMD__UNUSED(arg);
    double x = s->keys[a].sequence, y = s->keys[b].sequence;
    if (x != y) {
        return x < y ? -1 : 1;
    }
    return compare_key_numbers(s, a, b);
}

/* An image's index is its place in the slice's acquisition sequence; the axis
 * holds the values in that order. */
static void rank_by_sequence(Sorter *s, size_t slice, size_t d)
{
    uint32_t *keys = slice_keys(s, slice);
    size_t m = slice_size(s, slice);
    merge_sort(s, keys, m, s->scratch, compare_sequence, 0);
    ImdValue *axis = axis_storage(s, slice, d);
    for (size_t i = 0; i < m; i++) {
        set_index(s, keys[i], d, i);
        axis[i] = value_of(s, keys[i], d);
    }
    set_axis(s, slice, d, m);
}

static void index_slice(Sorter *s, size_t slice)
{
    for (size_t d = 0; d < s->components; d++) {
        if (s->by_sequence[d]) {
            rank_by_sequence(s, slice, d);
        } else if (s->is_time[d] && s->components > 1) {
            rank_time_component(s, slice, d);
        } else {
            rank_by_value(s, slice, d);
        }
    }
}

/* ---- 8. duplicates (§3.5) ------------------------------------------------ */

/* The first run of images with the same indices in a slice. */
static bool find_duplicate(Sorter *s, size_t slice, Duplicate *found)
{
    uint32_t *keys = slice_keys(s, slice);
    size_t m = slice_size(s, slice);
    merge_sort(s, keys, m, s->scratch, compare_indices, s->dims);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && compare_index_prefix(s, keys[i], keys[j], s->dims) == 0) {
            j++;
        }
        if (j - i > 1) {
            found->slice = slice;
            found->count = j - i;
            found->first = keys[i];
            found->second = keys[i + 1];
            return true;
        }
        i = j;
    }
    return false;
}

static void describe_tags(const Sorter *s, uint32_t key, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (size_t d = 0; d < s->components && used < size; d++) {
        char value[128];
        ImdValue v = value_of(s, key, d);
        format_value(value, sizeof value, &v);
        used += (size_t)snprintf(buffer + used, size - used, "%s%s=%s", d ? ", " : "",
                                 s->name[d], value);
    }
}

static bool report_duplicate(Sorter *s, const Duplicate *dup)
{
    if (s->components == 0) {
        imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                      "duplicate tag: %zu images at slice %zu (%.4f mm) with order none "
                      "(images %u and %u%s), which takes one image per slice; try "
                      "accept_duplicate_tag=True or an order that tells them apart",
                      dup->count, dup->slice, s->slice_distance[dup->slice],
                      image_number(s, dup->first), image_number(s, dup->second),
                      dup->count > 2 ? ", ..." : "");
        return false;
    }
    char tags[512];
    describe_tags(s, dup->first, tags, sizeof tags);
    imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                  "duplicate tag: %zu images at slice %zu (%.4f mm) have the same tags (%s): "
                  "images %u and %u%s%s%s; try accept_duplicate_tag=True",
                  dup->count, dup->slice, s->slice_distance[dup->slice], tags,
                  image_number(s, dup->first), image_number(s, dup->second),
                  dup->count > 2 ? ", ..." : "", s->auto_chosen ? "; auto chose order " : "",
                  s->auto_chosen ? s->layout->order : "");
    return false;
}

/* accept_duplicate_tag (§3.5): the last dimension's index becomes the image's
 * number among the images sharing the other indices; its axis is the longest
 * such list, so values repeat (b on RSI: 0, 500 x6, 1500 x6). */
static void renumber_last(Sorter *s, size_t slice)
{
    uint32_t *keys = slice_keys(s, slice);
    size_t m = slice_size(s, slice), last = s->dims - 1;
    merge_sort(s, keys, m, s->scratch, compare_renumber, last);
    size_t group = 0, best = 0, best_length = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && compare_index_prefix(s, keys[group], keys[i], last) != 0) {
            group = i;
        }
        set_index(s, keys[i], last, i - group);
        if (i - group + 1 > best_length) {
            best = group;
            best_length = i - group + 1;
        }
    }
    ImdValue *axis = axis_storage(s, slice, last);
    for (size_t i = 0; i < best_length; i++) {
        axis[i] = value_of(s, keys[best + i], last);
    }
    set_axis(s, slice, last, best_length);
}

/* Order none with duplicates gets a leading "none" axis (§3.5). */
static void add_none_axis(Sorter *s)
{
    s->dims = 1;
    s->none_axis = true;
    s->name[0] = "none";
    for (size_t i = 0; i < s->n; i++) {
        set_index(s, (uint32_t)i, 0, 0);
    }
}

static bool handle_duplicates(Sorter *s)
{
    Duplicate dup = {0};
    bool found = false;
    for (size_t slice = 0; slice < s->slices && !found; slice++) {
        found = find_duplicate(s, slice, &dup);
    }
    if (!found) {
        return true;
    }
    if (!s->options->accept_duplicate_tag) {
        return report_duplicate(s, &dup);
    }
    if (s->dims == 0) {
        add_none_axis(s);
    }
    for (size_t slice = 0; slice < s->slices; slice++) {
        renumber_last(s, slice);
    }
    s->by_rank[s->dims - 1] = true;
    return true;
}

/* ---- 9. the same number of images in every slice (§3.2) ----------------- */

static int compare_sizes(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* The most common image count of a slice (the larger one on a tie). */
static bool usual_count(Sorter *s, size_t *usual)
{
    size_t *counts = imd__malloc(s->error, s->slices * sizeof *counts);
    if (counts == NULL) {
        return false;
    }
    for (size_t i = 0; i < s->slices; i++) {
        counts[i] = slice_size(s, i);
    }
    qsort(counts, s->slices, sizeof *counts, compare_sizes);
    size_t best = 0, best_run = 0;
    for (size_t i = 0; i < s->slices;) {
        size_t j = i;
        while (j < s->slices && counts[j] == counts[i]) {
            j++;
        }
        if (j - i >= best_run) {
            best = counts[i];
            best_run = j - i;
        }
        i = j;
    }
    free(counts);
    *usual = best;
    return true;
}

static bool check_counts(Sorter *s)
{
    size_t usual, odd = 0, first = 0;
    if (!usual_count(s, &usual)) {
        return false;
    }
    for (size_t i = 0; i < s->slices; i++) {
        if (slice_size(s, i) != usual && odd++ == 0) {
            first = i;
        }
    }
    if (odd == 0) {
        return true;
    }
    if (s->options->accept_uneven_slices) {
        return add_warning(s, "slice %zu (%.4f mm) has %zu images, expected %zu (%zu of %zu "
                              "slices differ); accept_uneven_slices: missing cells are empty",
                           first, s->slice_distance[first], slice_size(s, first), usual, odd,
                           s->slices);
    }
    imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                  "slice %zu (%.4f mm) has %zu images, expected %zu (%zu of %zu slices differ); "
                  "try split_acquisitions, split_echo_numbers or accept_uneven_slices",
                  first, s->slice_distance[first], slice_size(s, first), usual, odd, s->slices);
    return false;
}

/* ---- 10. one tag shape; the lowest slice defines the axes (§3.5) -------- */

static void format_shape(const Sorter *s, size_t slice, char *buffer, size_t size)
{
    size_t used = (size_t)snprintf(buffer, size, "(");
    for (size_t d = 0; d < s->dims && used < size; d++) {
        used += (size_t)snprintf(buffer + used, size - used, "%s%zu", d ? ", " : "",
                                 s->axis[slice * MAX_DIMS + d].length);
    }
    if (used < size) {
        snprintf(buffer + used, size - used, ")");
    }
}

static bool report_shape(Sorter *s, size_t slice)
{
    char shape[128], first[128];
    format_shape(s, slice, shape, sizeof shape);
    format_shape(s, 0, first, sizeof first);
    imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                  "slice %zu (%.4f mm) has tag shape %s, slice 0 (%.4f mm) has %s (order %s); "
                  "try accept_uneven_slices",
                  slice, s->slice_distance[slice], shape, s->slice_distance[0], first,
                  s->layout->order);
    return false;
}

/* The series shape: slice 0's; with accept_uneven_slices the longest per dimension. */
static bool decide_shape(Sorter *s)
{
    for (size_t d = 0; d < s->dims; d++) {
        s->shape[d] = s->axis[d].length;
        s->reference[d] = 0;
    }
    for (size_t slice = 1; slice < s->slices; slice++) {
        for (size_t d = 0; d < s->dims; d++) {
            size_t length = s->axis[slice * MAX_DIMS + d].length;
            if (length == s->shape[d]) {
                continue;
            }
            if (!s->options->accept_uneven_slices) {
                return report_shape(s, slice);
            }
            if (length > s->shape[d]) {
                s->shape[d] = length;
                s->reference[d] = slice;
            }
        }
    }
    return true;
}

static const ImdValue *slice_axis(const Sorter *s, size_t slice, size_t d, size_t *length)
{
    const AxisRef *ref = &s->axis[slice * MAX_DIMS + d];
    *length = ref->length;
    return s->pool + ref->offset;
}

/* Each local value found in the reference axis, in order: map[i] = its place. */
static bool map_by_value(const ImdValue *local, size_t count, const ImdValue *reference,
                         size_t reference_count, uint32_t *map)
{
    size_t j = 0;
    for (size_t i = 0; i < count; i++) {
        while (j < reference_count && compare_values(&reference[j], &local[i]) < 0) {
            j++;
        }
        if (j == reference_count || compare_values(&reference[j], &local[i]) != 0) {
            return false;
        }
        map[i] = (uint32_t)j++;
    }
    return true;
}

/* Names the first value that differs: "value 1 is 600, not 500". */
static bool warn_axis_mismatch(Sorter *s, size_t slice, size_t d, const ImdValue *local,
                               size_t count, const ImdValue *reference, size_t reference_count)
{
    size_t i = 0;
    while (i < count && i < reference_count && compare_values(&local[i], &reference[i]) == 0) {
        i++;
    }
    char a[128] = "none", b[128] = "none";
    if (i < count) {
        format_value(a, sizeof a, &local[i]);
    }
    if (i < reference_count) {
        format_value(b, sizeof b, &reference[i]);
    }
    return add_warning(s, "slice %zu (%.4f mm) has other %s values than slice %zu (%.4f mm): "
                          "value %zu is %s, not %s; slice %zu's values name the axis",
                       slice, s->slice_distance[slice], s->name[d], s->reference[d],
                       s->slice_distance[s->reference[d]], i, a, b, s->reference[d]);
}

/* A slice's local indices -> the series' indices along dimension d: by value
 * when its values are among the reference's (uneven slices keep their cells),
 * else by rank (times differ between slices; a mismatch warns once). */
static bool map_dimension(Sorter *s, size_t slice, size_t d, bool *warned)
{
    size_t count, reference_count;
    const ImdValue *local = slice_axis(s, slice, d, &count);
    const ImdValue *reference = slice_axis(s, s->reference[d], d, &reference_count);
    uint32_t *map = s->scratch;
    if (slice == s->reference[d] || s->by_rank[d] ||
        !map_by_value(local, count, reference, reference_count, map)) {
        bool mismatch = !s->by_rank[d] && slice != s->reference[d];
        if (mismatch && !*warned) {
            *warned = true;
            if (!warn_axis_mismatch(s, slice, d, local, count, reference, reference_count)) {
                return false;
            }
        }
        return true; /* by rank: the indices stay */
    }
    uint32_t *keys = slice_keys(s, slice);
    for (size_t i = 0; i < slice_size(s, slice); i++) {
        set_index(s, keys[i], d, map[get_index(s, keys[i], d)]);
    }
    return true;
}

static bool map_slices(Sorter *s)
{
    bool warned[MAX_DIMS] = {false};
    for (size_t slice = 0; slice < s->slices; slice++) {
        for (size_t d = 0; d < s->dims; d++) {
            if (!map_dimension(s, slice, d, &warned[d])) {
                return false;
            }
        }
    }
    return true;
}

/* Values along the acquisition sequence must agree from slice to slice (the
 * same direction is the k-th in every slice), else the sequence is no order. */
static bool check_sequence_axes(Sorter *s)
{
    for (size_t d = 0; d < s->dims; d++) {
        if (!s->by_sequence[d] || s->synthetic[d]) {
            continue;
        }
        size_t reference_count, count;
        const ImdValue *reference = slice_axis(s, s->reference[d], d, &reference_count);
        for (size_t slice = 0; slice < s->slices; slice++) {
            const ImdValue *local = slice_axis(s, slice, d, &count);
            for (size_t i = 0; i < count && i < reference_count; i++) {
                if (compare_values(&local[i], &reference[i]) != 0) {
                    char a[128], b[128];
                    format_value(a, sizeof a, &local[i]);
                    format_value(b, sizeof b, &reference[i]);
                    imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                                  "auto order %s in acquisition order: image %zu of slice %zu "
                                  "(%.4f mm) has %s, of slice %zu %s; give the order (e.g. "
                                  "\"b,bvector\")", s->name[d], i, slice,
                                  s->slice_distance[slice], a, s->reference[d], b);
                    return false;
                }
            }
        }
    }
    return true;
}

/* ---- 11. the layout ------------------------------------------------------ */

static bool count_cells(Sorter *s, size_t *tag_cells, size_t *cells)
{
    size_t product = 1;
    for (size_t d = 0; d < s->dims; d++) {
        if (!imd__mul_size(product, s->shape[d], &product)) {
            product = SIZE_MAX;
            break;
        }
    }
    size_t limit = s->n * MAX_CELLS_PER_IMAGE > MIN_CELL_LIMIT ? s->n * MAX_CELLS_PER_IMAGE
                                                                : MIN_CELL_LIMIT;
    size_t total;
    if (!imd__mul_size(product, s->slices, &total) || total > limit) {
        char shape[128];
        format_shape(s, s->reference[0], shape, sizeof shape);
        imd_error_set(s->error, IMD_ERR_CANNOT_SORT,
                      "order %s gives tag shape %s: too sparse for %zu images in %zu slices "
                      "(more than %d cells per image); choose another order",
                      s->layout->order, shape, s->n, s->slices, MAX_CELLS_PER_IMAGE);
        return false;
    }
    *tag_cells = product;
    *cells = total;
    return true;
}

static size_t tag_cell_of(const Sorter *s, uint32_t key)
{
    size_t cell = 0;
    for (size_t d = 0; d < s->dims; d++) {
        cell = cell * s->shape[d] + get_index(s, key, d);
    }
    return cell;
}

static bool fill_cells(Sorter *s, size_t cells)
{
    ImdLayout *layout = s->layout;
    layout->cell = imd__malloc(s->error, cells * sizeof *layout->cell);
    if (layout->cell == NULL) {
        return false;
    }
    memset(layout->cell, 0xff, cells * sizeof *layout->cell); /* EMPTY_CELL */
    for (size_t slice = 0; slice < s->slices; slice++) {
        const uint32_t *keys = slice_keys(s, slice);
        for (size_t i = 0; i < slice_size(s, slice); i++) {
            size_t at = tag_cell_of(s, keys[i]) * s->slices + slice;
            if (layout->cell[at] != EMPTY_CELL) {
                imd_error_set(s->error, IMD_ERR_INTERNAL,
                              "images %u and %u both sorted into one cell of slice %zu",
                              image_number(s, layout->cell[at]), image_number(s, keys[i]), slice);
                return false;
            }
            layout->cell[at] = keys[i];
        }
    }
    return true;
}

/* Each cell's own tag values (none for an empty cell: kind 0). */
static bool fill_tags(Sorter *s, size_t cells)
{
    ImdLayout *layout = s->layout;
    if (s->dims == 0) {
        return true;
    }
    /* cells * dims cannot overflow: count_cells() bounded cells by 16 per image */
    layout->tags = imd__calloc(s->error, cells * s->dims, sizeof *layout->tags);
    if (layout->tags == NULL) {
        return false;
    }
    for (size_t c = 0; c < cells; c++) {
        if (layout->cell[c] != EMPTY_CELL) {
            for (size_t d = 0; d < s->dims; d++) {
                layout->tags[c * s->dims + d] = value_of(s, layout->cell[c], d);
            }
        }
    }
    return true;
}

static bool fill_axes(Sorter *s)
{
    ImdLayout *layout = s->layout;
    layout->tag_ndim = s->dims;
    for (size_t d = 0; d < s->dims; d++) {
        size_t length;
        const ImdValue *values = slice_axis(s, s->reference[d], d, &length);
        layout->tag_shape[d] = s->shape[d];
        layout->axis_values[d] = imd__calloc(s->error, s->shape[d], sizeof(ImdValue));
        if (layout->axis_values[d] == NULL) {
            return false;
        }
        memcpy(layout->axis_values[d], values, length * sizeof(ImdValue));
    }
    return true;
}

/* positions[s]: slice s's first image (lowest tag cell); distances[s] its distance. */
static bool fill_positions(Sorter *s, size_t tag_cells)
{
    ImdLayout *layout = s->layout;
    layout->distances = imd__malloc(s->error, s->slices * sizeof *layout->distances);
    layout->positions = imd__malloc(s->error, s->slices * sizeof *layout->positions);
    if (layout->distances == NULL || layout->positions == NULL) {
        return false;
    }
    for (size_t slice = 0; slice < s->slices; slice++) {
        uint32_t key = slice_keys(s, slice)[0];
        for (size_t c = 0; c < tag_cells; c++) {
            if (layout->cell[c * s->slices + slice] != EMPTY_CELL) {
                key = layout->cell[c * s->slices + slice];
                break;
            }
        }
        layout->positions[slice] = s->keys[key].position;
        layout->distances[slice] = s->distance[key];
    }
    return true;
}

static bool build_layout(Sorter *s)
{
    size_t tag_cells, cells;
    s->layout->slices = s->slices;
    return count_cells(s, &tag_cells, &cells) && fill_cells(s, cells) && fill_tags(s, cells) &&
           fill_axes(s) && fill_positions(s, tag_cells);
}

/* ---- the whole ----------------------------------------------------------- */

static bool allocate(Sorter *s)
{
    size_t n = s->n, per_key;
    if (!imd__mul_size(n, MAX_DIMS, &per_key)) {
        imd_error_set(s->error, IMD_ERR_LIMIT, "too many images to sort (%zu)", n);
        return false;
    }
    s->distance = imd__malloc(s->error, n * sizeof *s->distance);
    s->order = imd__malloc(s->error, n * sizeof *s->order);
    s->scratch = imd__malloc(s->error, n * sizeof *s->scratch);
    s->slice_start = imd__malloc(s->error, (n + 1) * sizeof *s->slice_start);
    s->slice_distance = imd__malloc(s->error, n * sizeof *s->slice_distance);
    s->index = imd__calloc(s->error, per_key, sizeof *s->index);
    s->pool = imd__calloc(s->error, per_key, sizeof *s->pool);
    s->axis = imd__calloc(s->error, per_key, sizeof *s->axis);
    return s->distance && s->order && s->scratch && s->slice_start && s->slice_distance &&
           s->index && s->pool && s->axis;
}

static void release(Sorter *s)
{
    free(s->distance);
    free(s->order);
    free(s->scratch);
    free(s->slice_start);
    free(s->slice_distance);
    free(s->index);
    free(s->pool);
    free(s->axis);
}

static bool check_arguments(ImdError **error, const ImdSliceKey *keys, size_t count,
                            const ImdSortOptions *options, ImdLayout *layout)
{
    if (keys == NULL || options == NULL || layout == NULL || count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd__dicom_sort: %s",
                      count == 0 ? "no images to sort" : "NULL argument");
        return false;
    }
    if (count >= UINT32_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "%zu images in one series; at most %u", count,
                      UINT32_MAX - 1);
        return false;
    }
    double tolerances[2] = {options->slice_tolerance, options->dir_cosine_tolerance};
    for (size_t i = 0; i < 2; i++) {
        if (!(tolerances[i] >= 0) || !isfinite(tolerances[i])) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "%s %g must be a number >= 0",
                          i == 0 ? "slice_tolerance" : "dir_cosine_tolerance", tolerances[i]);
            return false;
        }
    }
    return true;
}

static bool sort_series(Sorter *s)
{
    if (!check_gantry_tilt(s) || !find_orientation(s) || !compute_distances(s)) {
        return false;
    }
    group_slices(s);
    if (!check_spacing(s) || !choose_order(s)) {
        return false;
    }
    for (size_t slice = 0; slice < s->slices; slice++) {
        index_slice(s, slice);
    }
    return handle_duplicates(s) && check_counts(s) && decide_shape(s) && map_slices(s) &&
           check_sequence_axes(s) &&
           build_layout(s);
}

bool imd__dicom_sort(ImdError **error, const ImdSliceKey *keys, size_t count,
                     const ImdSortOptions *options, ImdLayout *layout)
{
    if (layout != NULL) {
        memset(layout, 0, sizeof *layout);
    }
    if (!check_arguments(error, keys, count, options, layout)) {
        return false;
    }
    Sorter s = {0};
    s.error = error;
    s.keys = keys;
    s.n = count;
    s.options = options;
    s.layout = layout;
    s.slice_tolerance =
        options->slice_tolerance > 0 ? options->slice_tolerance : DEFAULT_SLICE_TOLERANCE;
    s.cosine_tolerance = options->dir_cosine_tolerance > 0 ? options->dir_cosine_tolerance
                                                           : DEFAULT_DIR_COSINE_TOLERANCE;
    bool ok = allocate(&s) && sort_series(&s);
    release(&s);
    if (!ok) {
        imd__dicom_layout_free(layout);
    }
    return ok;
}

void imd__dicom_layout_free(ImdLayout *layout)
{
    if (layout == NULL) {
        return;
    }
    free(layout->order);
    for (size_t d = 0; d < IMD_SORT_MAX_TAGS; d++) {
        free(layout->axis_values[d]);
    }
    free(layout->cell);
    free(layout->tags);
    free(layout->distances);
    free(layout->positions);
    for (size_t i = 0; i < layout->warning_count; i++) {
        free(layout->warnings[i]);
    }
    free(layout->warnings);
    memset(layout, 0, sizeof *layout);
}
