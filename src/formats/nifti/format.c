/*
 * format.c: the NIfTI format plugin (behaviour.md §5.2).
 *
 * Reading: .nii, .nii.gz and .hdr/.img pairs, NIfTI-1 and NIfTI-2, either
 * byte order. Each file is one series (several files give several series,
 * never stacked). Files are decoded in parallel: local files are mapped,
 * gzip is inflated (every member), the geometry comes from geometry.c
 * (sform, else qform, else pixdim), and the voxels are laid out as the
 * series' [tag..., slice, row, column] with the rows flipped back. Data
 * scaled by scl_slope/scl_inter (slope not 0 and not (1, 0)) is read as
 * float64. A 4th dimension is a tag axis; .bval/.bvec files beside the
 * image (same stem) make it "b" or "dti" (the original ignores them).
 *
 * Pairs: the .hdr member is read (with its .img); an .img member is taken
 * silently as the data half of its pair, read through its .hdr when only
 * the .img was named. .bval/.bvec members are taken silently as companions.
 * Orphans (an .img without its .hdr, a .bval without an image) are
 * reported with -v and skipped.
 *
 * Writing: Image.nii.gz by default; a name without a NIfTI suffix gets
 * ".nii.gz"; ".nii", ".nii.gz" and ".hdr"/".img" (a pair) are kept. The
 * header is NIfTI-1 unless a dimension exceeds 32767 or the option
 * nifti2=true asks for NIfTI-2. The voxels are streamed: the header is
 * written, then the series is laid out in NIfTI order a piece (PIECE
 * bytes) at a time and each piece handed to the output, so no copy of the
 * whole array is made. .nii.gz goes through gzip.c's streaming writer (one
 * gzip member compressed on all cores, option gzip_level, default 6).
 * Orders holding b or dti also write <stem>.bval, orders holding bvector
 * or dti <stem>.bvec (x, -y, z; none as 0 0 0), as members of their own:
 * the original overwrote the image with the bval text (a bug). Every
 * member is written to a temporary and committed only when all were
 * written.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): pages of a mapping given back as read */
#include "formats/nifti/nifti.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Bytes of voxels laid out in NIfTI order at a time when writing. */
#define PIECE ((size_t)512 << 10)
/* Most bytes of a .bval/.bvec file. */
#define TEXT_LIMIT ((size_t)16 << 20)

/* ---- names ---- */

typedef enum Kind {
    KIND_OTHER = 0, /* offered under input_format=nifti: judged by content */
    KIND_NII,
    KIND_NII_GZ,
    KIND_HDR,
    KIND_IMG,
    KIND_BVAL,
    KIND_BVEC
} Kind;

static const struct {
    const char *suffix;
    Kind kind;
} suffix_kinds[] = {
    {".nii.gz", KIND_NII_GZ}, {".nii", KIND_NII},   {".hdr", KIND_HDR},
    {".img", KIND_IMG},       {".bval", KIND_BVAL}, {".bvec", KIND_BVEC},
};

static Kind kind_of(const char *name, size_t *suffix_length)
{
    for (size_t i = 0; i < sizeof suffix_kinds / sizeof suffix_kinds[0]; i++) {
        if (imd__has_suffix(name, suffix_kinds[i].suffix)) {
            *suffix_length = strlen(suffix_kinds[i].suffix);
            return suffix_kinds[i].kind;
        }
    }
    *suffix_length = 0;
    return KIND_OTHER;
}

/* "dir/x.nii.gz" -> "dir/x"; names without a known suffix are their own stem. */
static char *stem_of(ImdError **error, const char *name)
{
    size_t suffix;
    (void)kind_of(name, &suffix);
    return imd__strndup(error, name, strlen(name) - suffix);
}

/* "<stem><suffix>", keeping the case of the stem's file's suffix when it was upper case. */
static char *sibling(ImdError **error, const char *stem, const char *suffix, bool upper)
{
    char *name = imd__sprintf(error, "%s%s", stem, suffix);
    if (name != NULL && upper) {
        for (char *p = name + strlen(stem); *p != '\0'; p++) {
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        }
    }
    return name;
}

static bool suffix_is_upper(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot != NULL && dot[1] >= 'A' && dot[1] <= 'Z';
}

/* ---- probing ---- */

static bool looks_like_header(const uint8_t *head, size_t length)
{
    if (length >= 348) {
        uint32_t le = imd__load_le32(head), be = imd__load_be32(head);
        if ((le == 348 || be == 348) &&
            (memcmp(head + 344, "n+1\0", 4) == 0 || memcmp(head + 344, "ni1\0", 4) == 0)) {
            return true;
        }
    }
    if (length >= 8) {
        uint32_t le = imd__load_le32(head), be = imd__load_be32(head);
        if ((le == 540 || be == 540) &&
            (memcmp(head + 4, "n+2\0", 4) == 0 || memcmp(head + 4, "ni2\0", 4) == 0)) {
            return true;
        }
    }
    return false;
}

static bool is_gzip(const uint8_t *head, size_t length)
{
    return length >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

static int nifti_probe(const uint8_t *head, size_t length, const char *name)
{
    size_t suffix;
    Kind kind = kind_of(name != NULL ? name : "", &suffix);
    if (looks_like_header(head, length)) {
        return 100;
    }
    if (is_gzip(head, length) && (kind == KIND_NII_GZ || kind == KIND_NII)) {
        return kind == KIND_NII_GZ ? 80 : 60;
    }
    if (kind == KIND_IMG || kind == KIND_BVAL || kind == KIND_BVEC) {
        return 10; /* the companions of an image: taken silently */
    }
    return 0;
}

/* ---- the reader ---- */

typedef struct Member {
    ImdMember file; /* a local file is mapped when read; else its bytes */
    Kind kind;
} Member;

typedef struct Reader {
    const ImdOptions *options;
    const ImdContext *context;
    /* Options read and checked once, in nifti_reader_create (a bad value is a usage error). */
    bool headers_only;
    ImdInputOrder order;
    const char *order_text; /* the option's text, as the series' order */
    Member *members;
    size_t count, capacity;
    pthread_mutex_t archive_lock; /* archives are used by one thread at a time */
} Reader;

static void *nifti_reader_create(ImdError **error, const ImdOptions *options,
                                 const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader != NULL) {
        reader->options = options;
        reader->context = context;
        reader->order_text = imd_options_get(options, "input_order", "auto");
        if (!imd_options_get_bool(error, options, "headers_only", false,
                                  &reader->headers_only) ||
            !imd__input_order_from_options(error, options, &reader->order)) {
            imd_error_prefix(error, "NIfTI reader: ");
            free(reader);
            return NULL;
        }
        pthread_mutex_init(&reader->archive_lock, NULL);
    }
    return reader;
}

static void free_member(Member *m)
{
    imd__member_free(&m->file);
}

static void nifti_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader == NULL) {
        return;
    }
    for (size_t i = 0; i < reader->count; i++) {
        free_member(&reader->members[i]);
    }
    free(reader->members);
    imd__input_order_clear(&reader->order);
    pthread_mutex_destroy(&reader->archive_lock);
    free(reader);
}

/* Is this image member NIfTI? Checked from its first bytes. */
static bool check_content(ImdError **error, const char *name, const uint8_t *head, size_t length)
{
    if (looks_like_header(head, length) || is_gzip(head, length)) {
        return true;
    }
    imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: no NIfTI header", name);
    return false;
}

/*
 * Keep the member's name (and its bytes when it is not a local file). Images
 * are checked by content; companions (.img, .bval, .bvec) only by name.
 */
/* A local file is only checked by its head here (it is mapped when read). */
static bool check_head(ImdError **error, const char *name, ImdStream *stream)
{
    uint8_t head[544];
    size_t length = 0;
    while (length < sizeof head) {
        int64_t got = imd_stream_read(error, stream, head + length, sizeof head - length);
        if (got < 0) {
            return false;
        }
        if (got == 0) {
            break;
        }
        length += (size_t)got;
    }
    return check_content(error, name, head, length);
}

static bool nifti_reader_add(ImdError **error, void *state, ImdArchive *archive,
                             const char *name, ImdStream *stream)
{
    Reader *reader = state;
    Member m = {0};
    size_t suffix;
    m.kind = kind_of(name, &suffix);
    /* Companions (.img, .bval, .bvec) are opened through their header's job. */
    bool companion = m.kind == KIND_IMG || m.kind == KIND_BVAL || m.kind == KIND_BVEC;
    if (!imd__member_keep(error, &m.file, archive, name, stream,
                          companion ? IMD__KEEP_NAME : IMD__KEEP_LOCAL_OR_BYTES, 0)) {
        return false;
    }
    bool ok = companion || (m.file.path != NULL ? check_head(error, name, stream)
                                                : check_content(error, name, m.file.bytes,
                                                                m.file.size));
    if (!ok || !imd__member_push(error, (void **)&reader->members, &reader->count,
                                 &reader->capacity, &m, sizeof m)) {
        free_member(&m);
        return false;
    }
    return true;
}

/* ---- member bytes: mapped local files or memory ---- */

/* Open any member of an archive: mapped when local, else read (under the archive lock). */
static bool blob_open(ImdError **error, Reader *reader, ImdArchive *archive, const char *name,
                      size_t limit, ImdBlob *blob)
{
    return imd__blob_open(error, archive, name, limit, &reader->archive_lock, blob);
}

/* Does `name` exist in the archive? (Without reading it when it is a local file.) */
static bool member_exists(Reader *reader, ImdArchive *archive, const char *name)
{
    char *path = imd_archive_local_path(archive, name);
    if (path != NULL) {
        struct stat info;
        bool exists = stat(path, &info) == 0 && S_ISREG(info.st_mode);
        free(path);
        return exists;
    }
    pthread_mutex_lock(&reader->archive_lock);
    ImdStream *stream = imd_archive_open_member(NULL, archive, name, IMD_MODE_READ);
    imd_stream_abort(stream);
    pthread_mutex_unlock(&reader->archive_lock);
    return stream != NULL;
}

/* ---- gzip ---- */

/* Inflate the first bytes (up to `want`) of gzip data, across members. */
static size_t gunzip_head(const uint8_t *data, size_t size, uint8_t *out, size_t want)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) {
        return 0;
    }
    size_t in_at = 0, got = 0;
    while (got < want && in_at < size) {
        size_t in_left = size - in_at;
        z.next_in = (Bytef *)(uintptr_t)(data + in_at);
        z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        z.next_out = out + got;
        z.avail_out = (uInt)(want - got);
        uInt given_in = z.avail_in, given_out = z.avail_out;
        int status = inflate(&z, Z_NO_FLUSH);
        in_at += given_in - z.avail_in;
        got += given_out - z.avail_out;
        if (status == Z_STREAM_END) {
            if (inflateReset(&z) != Z_OK) {
                break;
            }
        } else if (status != Z_OK) {
            break;
        }
    }
    inflateEnd(&z);
    return got;
}

/* ---- voxel layout ---- */

/* Where NIfTI voxel (i, j, k) lies in a series [tags, slice, row, column] volume. */
typedef struct Layout {
    size_t n[3];        /* NIfTI sizes along i, j, k */
    size_t size[3];     /* series sizes: column, row, slice */
    ptrdiff_t step[3];  /* series element step for one NIfTI step along i, j, k */
    size_t base;        /* series element offset of NIfTI (0, 0, 0) */
    size_t volume;      /* voxels of one 3D volume */
    size_t volumes;     /* volumes (the product of the tag dimensions) */
} Layout;

/* The layout for NIfTI sizes n[] (along i, j, k) and an order. */
static bool make_layout(ImdError **error, const ImdNiftiVoxelOrder *order, const size_t n[3],
                        size_t volumes, Layout *layout)
{
    bool seen[3] = {false, false, false};
    for (int a = 0; a < 3; a++) {
        int source = order->source[a];
        if (source < 0 || source > 2 || seen[source]) {
            imd_error_set(error, IMD_ERR_INTERNAL, "NIfTI voxel order (%d, %d, %d) is not a "
                          "permutation", order->source[0], order->source[1], order->source[2]);
            return false;
        }
        seen[source] = true;
    }
    memset(layout, 0, sizeof *layout);
    for (int a = 0; a < 3; a++) {
        layout->n[a] = n[a];
        layout->size[order->source[a]] = n[a];
    }
    size_t stride[3] = {1, layout->size[0], layout->size[0] * layout->size[1]};
    for (int a = 0; a < 3; a++) {
        size_t s = stride[order->source[a]];
        layout->step[a] = order->flip[a] ? -(ptrdiff_t)s : (ptrdiff_t)s;
        layout->base += order->flip[a] ? (n[a] - 1) * s : 0;
    }
    layout->volume = n[0] * n[1] * n[2];
    layout->volumes = volumes;
    return true;
}

/* Copy elements between a contiguous NIfTI row and a strided series row. */
static void move_row(uint8_t *series, ptrdiff_t step, uint8_t *nifti, size_t count, size_t size,
                     bool to_series)
{
    ptrdiff_t stride = step * (ptrdiff_t)size;
#define MOVE_ROW(SIZE)                                                                       \
    for (size_t x = 0; x < count; x++, series += stride, nifti += (SIZE)) {                  \
        if (to_series) {                                                                     \
            memcpy(series, nifti, (SIZE));                                                   \
        } else {                                                                             \
            memcpy(nifti, series, (SIZE));                                                   \
        }                                                                                    \
    }
    switch (size) {
    case 1:
        MOVE_ROW(1)
        break;
    case 2:
        MOVE_ROW(2)
        break;
    case 3:
        MOVE_ROW(3)
        break;
    case 4:
        MOVE_ROW(4)
        break;
    case 8:
        MOVE_ROW(8)
        break;
    case 16:
        MOVE_ROW(16)
        break;
    default:
        MOVE_ROW(size)
        break;
    }
#undef MOVE_ROW
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverse the bytes of each `unit`-byte number (complex: each half). */
static void swap_bytes(uint8_t *data, size_t bytes, size_t unit)
{
    if (unit < 2) {
        return;
    }
    for (size_t at = 0; at + unit <= bytes; at += unit) {
        for (size_t a = at, b = at + unit - 1; a < b; a++, b--) {
            uint8_t t = data[a];
            data[a] = data[b];
            data[b] = t;
        }
    }
}

static size_t swap_unit(ImdDType dtype)
{
    if (dtype == IMD_DTYPE_RGB8) {
        return 1;
    }
    return imd_dtype_is_complex(dtype) ? imd_dtype_size(dtype) / 2 : imd_dtype_size(dtype);
}

static double element_value(ImdDType dtype, const uint8_t *p)
{
    switch (dtype) {
#define AS(TYPE)                                                                             \
    do {                                                                                     \
        TYPE v;                                                                              \
        memcpy(&v, p, sizeof v);                                                             \
        return (double)v;                                                                    \
    } while (0)
    case IMD_DTYPE_BOOL:
    case IMD_DTYPE_UINT8:
        AS(uint8_t);
    case IMD_DTYPE_INT8:
        AS(int8_t);
    case IMD_DTYPE_UINT16:
        AS(uint16_t);
    case IMD_DTYPE_INT16:
        AS(int16_t);
    case IMD_DTYPE_UINT32:
        AS(uint32_t);
    case IMD_DTYPE_INT32:
        AS(int32_t);
    case IMD_DTYPE_UINT64:
        AS(uint64_t);
    case IMD_DTYPE_INT64:
        AS(int64_t);
    case IMD_DTYPE_FLOAT32:
        AS(float);
    case IMD_DTYPE_FLOAT64:
        AS(double);
#undef AS
    default:
        return 0;
    }
}

/* ---- reading one file ---- */

typedef struct Job {
    Reader *reader;
    ImdArchive *archive;
    const Member *member; /* the header's member when it was offered, else NULL */
    char *header_name;    /* .nii, .nii.gz or .hdr */
    char *stem;
    ImdSeries *series;
    ImdError *error;
    ImdText notes; /* warnings, one per line, logged once the work is done */
} Job;

/*
 * The numbers of a text file (blank, tab or comma separated) into values[],
 * at most `capacity`, and how many non-blank lines hold them; false for
 * anything that is not a finite number or for more than `capacity` values.
 */
static bool parse_numbers(const char *text, double *values, size_t capacity, size_t *count,
                          size_t *lines)
{
    *count = *lines = 0;
    bool line_used = false;
    for (const char *p = text;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == ',') {
            p++;
        }
        if (*p == '\0' || *p == '\n') {
            *lines += line_used;
            line_used = false;
            if (*p == '\0') {
                return true;
            }
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || *count == capacity) {
            return false;
        }
        values[(*count)++] = v;
        line_used = true;
        p = end;
    }
}

/*
 * A .bval (one row of n numbers) or .bvec (three rows of n numbers, FSL's
 * layout as dcm2niix writes it) beside the image; n rows of 1 or 3 numbers
 * (the transposed layout some tools write) are accepted too.
 */
static bool read_companion(Job *job, const char *suffix, size_t rows, size_t n, double *values)
{
    bool upper = suffix_is_upper(job->header_name);
    char *name = sibling(NULL, job->stem, suffix, upper);
    if (name != NULL && upper && !member_exists(job->reader, job->archive, name)) {
        free(name);
        name = sibling(NULL, job->stem, suffix, false); /* X.NII.GZ beside X.bval */
    }
    ImdBlob blob;
    if (name == NULL || !member_exists(job->reader, job->archive, name) ||
        !blob_open(NULL, job->reader, job->archive, name, TEXT_LIMIT, &blob)) {
        free(name);
        return false;
    }
    char *text = imd__strndup(NULL, (const char *)blob.data, blob.size);
    imd__blob_close(&blob);
    size_t total = rows * n, count = 0, lines = 0;
    double *flat = text != NULL ? imd__calloc(NULL, total, sizeof *flat) : NULL;
    bool ok = flat != NULL && parse_numbers(text, flat, total, &count, &lines) && count == total &&
              (lines == rows || lines == n);
    if (ok && lines == rows) {
        memcpy(values, flat, total * sizeof *flat);
    } else if (ok) {
        for (size_t t = 0; t < n; t++) { /* n lines of `rows` numbers */
            for (size_t r = 0; r < rows; r++) {
                values[r * n + t] = flat[t * rows + r];
            }
        }
    }
    if (!ok && text != NULL) {
        imd__text_printf(&job->notes, "%s: not %zu row(s) of %zu numbers (one per volume): "
                         "ignored\n", name, rows, n);
    }
    free(flat);
    free(text);
    free(name);
    return ok;
}

/* The order of the tag dimensions, and their axes from the header or the .bval/.bvec files. */
typedef struct Tags {
    size_t ndim;                  /* NIfTI dimensions 4.. kept (trailing 1s dropped) */
    size_t shape[IMD_MAX_TAG_DIMS]; /* series order: shape[0] is NIfTI's highest */
    const char *order;     /* the series' order: "none", the one given, "b" or "dti" */
    double *bvals, *bvecs; /* from the companions, or NULL */
} Tags;

/* Is the order exactly the one component `name`? */
static bool only_component(const ImdInputOrder *order, const char *name)
{
    return order->count == 1 && strcmp(order->names[0], name) == 0;
}

static void choose_order(Job *job, const ImdNiftiHeader *h, Tags *tags)
{
    const ImdInputOrder *given = &job->reader->order; /* parsed once, by the reader */
    bool automatic = given->automatic;
    tags->order = "none";
    if (tags->ndim == 0) {
        return;
    }
    bool fits = !automatic && given->count == tags->ndim;
    if (fits) {
        tags->order = job->reader->order_text;
    } else if (!automatic) {
        imd__text_printf(&job->notes, "%s: input order \"%s\" does not fit %zu tag "
                         "dimension(s): \"none\" used\n", job->header_name,
                         job->reader->order_text, tags->ndim);
    }
    bool want_b = automatic || (fits && (only_component(given, "b") ||
                                         only_component(given, "dti")));
    bool want_vec = automatic || (fits && (only_component(given, "bvector") ||
                                           only_component(given, "dti")));
    if (tags->ndim != 1 || !(want_b || want_vec)) {
        return;
    }
    size_t n = (size_t)h->dim[4];
    tags->bvals = want_b ? imd__calloc(NULL, n, sizeof(double)) : NULL;
    if (tags->bvals != NULL && !read_companion(job, ".bval", 1, n, tags->bvals)) {
        free(tags->bvals);
        tags->bvals = NULL;
    }
    tags->bvecs = want_vec ? imd__calloc(NULL, 3 * n, sizeof(double)) : NULL;
    if (tags->bvecs != NULL && !read_companion(job, ".bvec", 3, n, tags->bvecs)) {
        free(tags->bvecs);
        tags->bvecs = NULL;
    }
    if (automatic && tags->bvals != NULL) {
        tags->order = tags->bvecs != NULL ? "dti" : "b";
    } else if (fits && only_component(given, "dti") && tags->bvals == NULL) {
        free(tags->bvecs);
        tags->bvecs = NULL; /* dti without b values: a uniform axis named dti */
    }
}

/*
 * The frame of .bvec files as dcm2niix writes them (and FSL reads them): a
 * gradient direction's components along the voxel axes i, j, k of the image,
 * with i negated when the sform's determinant is positive (FSL takes
 * directions in radiological voxel order). frame[a] is voxel axis a as a unit
 * vector in patient space (LPS, the frame of the series' b vectors). Without
 * an sform: the axes of an unrotated image, i.e. bvec = (x, -y, z) (§5.2).
 */
static void bvec_frame(const ImdNiftiHeader *h, double frame[3][3], bool *flip_x)
{
    double det = 0;
    for (int a = 0; a < 3; a++) {
        double ras[3] = {h->srow[0][a], h->srow[1][a], h->srow[2][a]};
        double length = sqrt(ras[0] * ras[0] + ras[1] * ras[1] + ras[2] * ras[2]);
        bool usable = h->sform_code > 0 && length > 0 && isfinite(length);
        for (int c = 0; c < 3; c++) {
            double identity = (a == c) ? (a == 1 ? -1.0 : 1.0) : 0.0;
            frame[a][c] = usable ? (c < 2 ? -ras[c] : ras[c]) / length : identity;
        }
    }
    det = frame[0][0] * (frame[1][1] * frame[2][2] - frame[1][2] * frame[2][1]) -
          frame[0][1] * (frame[1][0] * frame[2][2] - frame[1][2] * frame[2][0]) +
          frame[0][2] * (frame[1][0] * frame[2][1] - frame[1][1] * frame[2][0]);
    /* frame is in LPS, which flips two axes of RAS: its determinant is the sform's. */
    *flip_x = det > 0;
}

/* The direction of volume t from the .bvec columns (bvec_frame); none for 0 0 0. */
static ImdValue bvec_value(const Tags *tags, size_t n, size_t t, bool with_b,
                           const ImdNiftiHeader *h)
{
    double frame[3][3];
    bool flip_x;
    bvec_frame(h, frame, &flip_x);
    double b[3] = {tags->bvecs[t] * (flip_x ? -1 : 1), tags->bvecs[n + t], tags->bvecs[2 * n + t]};
    double v[3];
    for (int c = 0; c < 3; c++) {
        v[c] = b[0] * frame[0][c] + b[1] * frame[1][c] + b[2] * frame[2][c] + 0.0;
    }
    bool none = b[0] == 0 && b[1] == 0 && b[2] == 0;
    if (with_b) {
        return imd_value_b_vector(tags->bvals[t], none ? NULL : v, none ? 0 : 3);
    }
    return imd_value_vector(v, none ? 0 : 3);
}

/* The time unit of xyzt_units as seconds (ms, us -> s); 1 for others. */
static double time_scale(int32_t units)
{
    switch (units & 0x38) {
    case 16:
        return 1e-3;
    case 24:
        return 1e-6;
    default:
        return 1;
    }
}

static bool set_tag_axes(ImdError **error, const ImdNiftiHeader *h, Tags *tags,
                         ImdSeries *series)
{
    for (size_t d = 0; d < tags->ndim; d++) {
        size_t nifti_dim = 4 + (tags->ndim - 1 - d), n = tags->shape[d];
        const char *name = imd_axis_name(imd_series_axis(series, d));
        ImdAxis *axis = NULL;
        if (nifti_dim == 4 && tags->bvals != NULL && strcmp(name, "b") == 0) {
            axis = imd_axis_create_numbers(error, name, tags->bvals, n);
        } else if (nifti_dim == 4 && tags->bvecs != NULL &&
                   (strcmp(name, "dti") == 0 || strcmp(name, "bvector") == 0)) {
            ImdValue *values = imd__calloc(error, n, sizeof *values);
            for (size_t t = 0; values != NULL && t < n; t++) {
                values[t] = bvec_value(tags, n, t, strcmp(name, "dti") == 0, h);
            }
            axis = values != NULL ? imd_axis_create_variable(error, name, values, n) : NULL;
            free(values);
        } else {
            double step = h->pixdim[nifti_dim] * (nifti_dim == 4 ? time_scale(h->xyzt_units) : 1);
            if (!(isfinite(step) && step > 0)) {
                step = 1; /* writers that leave pixdim 0: number the volumes */
            }
            axis = imd_axis_create_uniform(error, name, 0, step, n);
        }
        if (axis == NULL || !imd_series_set_axis(error, series, d, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    return true;
}

/* Tags per slice: (value of each tag axis,) per cell; 3D holds (0,). */
static bool set_tags(ImdError **error, const Tags *tags, size_t slices, ImdSeries *series)
{
    ImdHeader *header = imd_series_header(series);
    size_t components = tags->ndim > 0 ? tags->ndim : 1, cells = 1;
    for (size_t d = 0; d < tags->ndim; d++) {
        cells *= tags->shape[d];
    }
    if (!imd_header_set_tag_shape(error, header, slices, tags->ndim, tags->shape, components)) {
        return false;
    }
    for (size_t cell = 0; cell < cells; cell++) {
        size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = cell;
        ImdValue values[IMD_MAX_TAG_DIMS];
        values[0] = imd_value_number(0);
        for (size_t d = tags->ndim; d-- > 0;) {
            index[d] = rest % tags->shape[d];
            rest /= tags->shape[d];
        }
        for (size_t d = 0; d < tags->ndim; d++) {
            if (!imd_axis_value(imd_series_axis(series, d), index[d], &values[d])) {
                values[d] = imd_value_number((double)index[d]);
            }
        }
        for (size_t s = 0; s < slices; s++) {
            if (!imd_header_set_tag(error, header, s, index, values)) {
                return false;
            }
        }
    }
    return true;
}

static bool set_geometry(ImdError **error, const ImdNiftiHeader *h, const ImdNiftiPlacement *p,
                         size_t slices, size_t rows, size_t columns, ImdSeries *series)
{
    ImdHeader *header = imd_series_header(series);
    double spacing[3];
    for (int i = 0; i < 3; i++) {
        spacing[i] = isfinite(p->spacing[i]) && p->spacing[i] > 0 ? p->spacing[i] : 1;
    }
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    double *locations = imd__calloc(error, slices, sizeof *locations);
    bool ok = positions != NULL && locations != NULL &&
              imd_header_set_spacing(error, header, spacing) &&
              imd_header_set_orientation(error, header, p->row, p->column);
    if (ok) {
        ImdVec3 normal = imd_header_normal(header);
        for (size_t s = 0; s < slices; s++) {
            positions[s] = (ImdVec3){p->first.x + (double)s * p->slice_step.x,
                                     p->first.y + (double)s * p->slice_step.y,
                                     p->first.z + (double)s * p->slice_step.z};
            locations[s] = positions[s].x * normal.x + positions[s].y * normal.y +
                           positions[s].z * normal.z;
        }
        ok = imd_header_set_image_positions(error, header, positions, slices) &&
             imd_header_set_slice_locations(error, header, locations, slices);
    }
    free(positions);
    free(locations);
    /* Axes of NIfTI data start at 0 (behaviour.md §1.4). */
    size_t ndim = imd_series_ndim(series), d = ndim - 2;
    ImdAxis *axis = NULL;
    if (ok && imd_series_find_axis(series, "slice") >= 0) {
        axis = imd_axis_create_uniform(error, "slice", 0, spacing[0], slices);
        ok = axis != NULL && imd_series_set_axis(error, series, ndim - 3, axis);
    }
    axis = ok ? imd_axis_create_uniform(error, "row", 0, spacing[1], rows) : NULL;
    ok = axis != NULL && imd_series_set_axis(error, series, d, axis);
    axis = ok ? imd_axis_create_uniform(error, "column", 0, spacing[2], columns) : NULL;
    ok = axis != NULL && imd_series_set_axis(error, series, d + 1, axis);
    imd_header_set_geometry_defined(header, h->sform_code > 0 || h->qform_code > 0);
    return ok;
}

/* Scale raw values into float64 (NIfTI order): value * slope + inter. */
/* ---- voxels, a chunk at a time ---- */

/* Bytes of voxels converted per step: the read peaks at the series array plus
 * about this (times 9 when scaling to float64), whatever the image's size. */
#define VOXEL_CHUNK ((size_t)4 << 20)

/*
 * Where the voxel bytes come from: a mapped or held file (a .nii, an .img),
 * or gzip data inflated on the way (a .nii.gz), never inflated whole. Pages
 * of a mapping are given back as they are consumed, so that a mapped file
 * does not double the read's resident memory.
 */
typedef struct Source {
    const uint8_t *data; /* the file (plain) or the compressed bytes (gzip) */
    size_t size, at;     /* at: the next byte of data to consume */
    void *map;           /* data lies in this mapping (NULL: memory we keep anyway) */
    size_t dropped;      /* bytes of the mapping given back so far */
    bool gzip, z_open;
    z_stream z;
    const char *name;
} Source;

static void source_drop_pages(Source *s)
{
    long page = sysconf(_SC_PAGESIZE);
    if (s->map == NULL || page <= 0) {
        return;
    }
    size_t consumed = s->at - s->at % (size_t)page;
    if (consumed >= s->dropped + VOXEL_CHUNK) {
        (void)madvise((uint8_t *)s->map + s->dropped, consumed - s->dropped, MADV_DONTNEED);
        s->dropped = consumed;
    }
}

static void source_close(Source *s)
{
    if (s->z_open) {
        inflateEnd(&s->z);
    }
    memset(s, 0, sizeof *s);
}

/* Inflate exactly `n` bytes into `out` (NULL: discard), across gzip members. */
static bool inflate_exact(ImdError **error, Source *s, uint8_t *out, size_t n)
{
    uint8_t scratch[4096];
    while (n > 0) {
        size_t want = out != NULL ? n : (n < sizeof scratch ? n : sizeof scratch);
        size_t in_left = s->size - s->at;
        s->z.next_in = (Bytef *)(uintptr_t)(s->data + s->at);
        s->z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        s->z.next_out = out != NULL ? out : scratch;
        s->z.avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt given_in = s->z.avail_in, given_out = s->z.avail_out;
        int status = inflate(&s->z, Z_NO_FLUSH);
        size_t got = given_out - s->z.avail_out;
        s->at += given_in - s->z.avail_in;
        n -= got;
        out = out != NULL ? out + got : NULL;
        if (status == Z_STREAM_END && s->at < s->size && inflateReset(&s->z) == Z_OK) {
            continue; /* the next gzip member */
        }
        if (status == Z_MEM_ERROR) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory for gzip decompression");
            return false;
        }
        if ((status != Z_OK && status != Z_STREAM_END) || (n > 0 && got == 0 && status != Z_OK)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "the gzip data ends or breaks %zu bytes before "
                          "the voxels the header claims (zlib %d)", n, status);
            return false;
        }
        if (n > 0 && got == 0 && s->at >= s->size) {
            imd_error_set(error, IMD_ERR_CORRUPT, "the gzip data ends %zu bytes before the "
                          "voxels the header claims", n);
            return false;
        }
        source_drop_pages(s);
    }
    return true;
}

/* Start reading voxels at byte `offset` of the (decompressed) file. */
static bool source_open(ImdError **error, Source *s, const ImdBlob *blob, bool gzip, size_t offset)
{
    memset(s, 0, sizeof *s);
    s->data = blob->data;
    s->size = blob->size;
    s->map = blob->map;
    s->gzip = gzip;
    if (!gzip) {
        s->at = offset; /* the bounds were checked against the file's size */
        return true;
    }
    if (inflateInit2(&s->z, 15 + 32) != Z_OK) {
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory for gzip decompression");
        return false;
    }
    s->z_open = true;
    return inflate_exact(error, s, NULL, offset);
}

static bool source_read(ImdError **error, Source *s, uint8_t *out, size_t n)
{
    if (s->gzip) {
        return inflate_exact(error, s, out, n);
    }
    memcpy(out, s->data + s->at, n);
    s->at += n;
    source_drop_pages(s);
    return true;
}

/* NIfTI rows [first, first + count) (along i; t, k, j outer) into the series. */
static void place_rows(const Layout *l, uint8_t *series, const uint8_t *rows, size_t size,
                       size_t first, size_t count)
{
    size_t per_volume = l->n[1] * l->n[2];
    for (size_t r = first; r < first + count; r++) {
        size_t t = r / per_volume, rest = r % per_volume;
        size_t k = rest / l->n[1], j = rest % l->n[1];
        ptrdiff_t at = (ptrdiff_t)l->base + (ptrdiff_t)j * l->step[1] + (ptrdiff_t)k * l->step[2];
        uint8_t *volume = series + t * l->volume * size;
        move_row(volume + at * (ptrdiff_t)size, l->step[0],
                 (uint8_t *)(uintptr_t)(rows + (r - first) * l->n[0] * size), l->n[0], size,
                 true);
    }
}

/*
 * The voxels, a few MiB at a time: read (or inflated), swapped to host
 * order, scaled when asked, and laid out as the series, so that the read
 * holds the series array and one chunk, never a second copy of the image.
 */
static bool fill_voxels(ImdError **error, const ImdNiftiHeader *h, ImdDType dtype,
                        bool scaled, const Layout *layout, Source *source, ImdSeries *series,
                        const ImdContext *context)
{
    size_t in_size = imd_dtype_size(dtype), out_size = scaled ? sizeof(double) : in_size;
    size_t row_bytes = layout->n[0] * in_size;
    size_t total = layout->n[1] * layout->n[2] * layout->volumes;
    size_t per_chunk = row_bytes > 0 && row_bytes < VOXEL_CHUNK ? VOXEL_CHUNK / row_bytes : 1;
    per_chunk = per_chunk < total ? per_chunk : (total > 0 ? total : 1);
    uint8_t *raw = imd__malloc(error, per_chunk * row_bytes);
    double *values = scaled ? imd__malloc(error, per_chunk * layout->n[0] * sizeof(double))
                            : NULL;
    bool ok = raw != NULL && (!scaled || values != NULL);
    for (size_t first = 0; ok && first < total; first += per_chunk) {
        size_t count = total - first < per_chunk ? total - first : per_chunk;
        size_t bytes = count * row_bytes, elements = count * layout->n[0];
        ok = imd__check_cancel(error, context, source->name) &&
             source_read(error, source, raw, bytes);
        if (!ok) {
            break;
        }
        if (h->swapped && swap_unit(dtype) > 1) {
            swap_bytes(raw, bytes, swap_unit(dtype));
        }
        const uint8_t *rows = raw;
        if (scaled) {
            for (size_t i = 0; i < elements; i++) {
                values[i] = element_value(dtype, raw + i * in_size) * h->scl_slope + h->scl_inter;
            }
            rows = (const uint8_t *)values;
        }
        place_rows(layout, imd_series_data(series), rows, out_size, first, count);
    }
    free(raw);
    free(values);
    return ok;
}

/* The data half: the .nii itself (inflated on the way when gzip), or the .img of a pair. */
static bool open_data(ImdError **error, Job *job, const ImdNiftiHeader *h, const ImdBlob *file,
                      bool gzip, size_t bytes, ImdBlob *img, Source *source)
{
    size_t offset = (size_t)h->vox_offset, end = 0;
    if (!h->pair) {
        if (!gzip && (!imd__add_size(offset, bytes, &end) || end > file->size)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%zu bytes, but the header asks for %zu bytes "
                          "of voxels from offset %zu (a truncated file?)", file->size, bytes,
                          offset);
            return false;
        }
        source->name = job->header_name;
        return source_open(error, source, file, gzip, offset);
    }
    bool upper = suffix_is_upper(job->header_name);
    char *name = sibling(error, job->stem, ".img", upper);
    if (name == NULL) {
        return false;
    }
    bool ok = blob_open(error, job->reader, job->archive, name, 0, img);
    if (!ok && upper) {
        imd_error_clear(error);
        free(name);
        name = sibling(error, job->stem, ".img", false);
        ok = name != NULL && blob_open(error, job->reader, job->archive, name, 0, img);
    }
    if (!ok) {
        imd_error_prefix(error, "the data file of the pair: ");
    } else if (!imd__add_size(offset, bytes, &end) || end > img->size) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %zu bytes, %zu expected from the header",
                      name, img->size, end);
        ok = false;
    } else {
        ok = source_open(error, source, img, false, offset);
        source->name = job->header_name;
    }
    free(name);
    return ok;
}

/* Bytes of the voxels of a decoded header (bounded by imd__nifti_decode). */
static size_t voxel_bytes(const ImdNiftiHeader *h)
{
    ImdDType dtype = IMD_DTYPE_UINT8;
    (void)imd__nifti_dtype(h->datatype, &dtype);
    size_t count = imd_dtype_size(dtype);
    for (int i = 1; i <= h->dim[0]; i++) {
        count *= (size_t)h->dim[i];
    }
    return count;
}

/* Header bytes, and (when voxels are wanted) the file: plain, or its gzip
 * bytes to inflate on the way. `gzip` says the file was compressed; its claim
 * is then checked here against the compressed size (deflate's bound). */
static bool load_file(ImdError **error, Job *job, bool with_data, ImdBlob *file, ImdNiftiHeader *h,
                      size_t *bytes, bool *gzip)
{
    *gzip = false;
    ImdBlob raw = {0};
    const Member *m = job->member;
    if (m != NULL && m->file.bytes != NULL) {
        raw.data = m->file.bytes;
        raw.size = m->file.size;
    } else if (!blob_open(error, job->reader, job->archive, job->header_name, 0, &raw)) {
        return false;
    }
    bool ok;
    if (is_gzip(raw.data, raw.size)) {
        uint8_t head[544];
        size_t got = gunzip_head(raw.data, raw.size, head, sizeof head);
        ok = imd__nifti_decode(error, head, got, job->header_name, h);
        *bytes = ok ? voxel_bytes(h) : 0;
        /* Check the claim against what the compressed bytes can hold before inflating. */
        size_t justified = raw.size <= SIZE_MAX / IMD__DEFLATE_MAX_RATIO
                               ? raw.size * IMD__DEFLATE_MAX_RATIO
                               : SIZE_MAX;
        if (ok && !h->pair &&
            ((size_t)h->vox_offset > justified || *bytes > justified - (size_t)h->vox_offset)) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "%s: the header claims %zu bytes of voxels, but %zu compressed "
                          "bytes can hold at most %zu",
                          job->header_name, *bytes, raw.size, justified);
            ok = false;
        }
        if (ok && with_data && !h->pair) {
            *file = raw; /* inflated chunk by chunk while the voxels are placed */
            *gzip = true;
            return true;
        }
        *gzip = ok; /* headers only (or a pair's header): the claim was checked above */
        if (ok) {
            file->owned = imd__malloc(error, got);
            ok = file->owned != NULL;
            if (ok) {
                memcpy(file->owned, head, got);
                file->data = file->owned;
                file->size = got;
            }
        }
        imd__blob_close(&raw);
        return ok;
    }
    ok = imd__nifti_decode(error, raw.data, raw.size, job->header_name, h);
    *bytes = ok ? voxel_bytes(h) : 0;
    if (!ok) {
        imd__blob_close(&raw);
        return false;
    }
    *file = raw; /* the mapping or the copy moves to the caller; member bytes stay borrowed */
    return true;
}

static ImdSeries *read_image(ImdError **error, Job *job)
{
    bool with_data = !job->reader->headers_only;
    ImdBlob file = {0}, img = {0};
    ImdNiftiHeader h;
    size_t bytes = 0;
    bool gzip = false;
    if (!load_file(error, job, with_data, &file, &h, &bytes, &gzip)) {
        return NULL;
    }
    ImdDType dtype;
    (void)imd__nifti_dtype(h.datatype, &dtype); /* checked by imd__nifti_decode */
    /* NIfTI-1: slope 0 (or not a number) means unscaled; an intercept that is
     * not a number counts as 0 (as nibabel reads it). */
    if (!isfinite(h.scl_inter)) {
        h.scl_inter = 0;
    }
    bool scaled = isfinite(h.scl_slope) && h.scl_slope != 0 &&
                  !(h.scl_slope == 1 && h.scl_inter == 0);
    if (scaled && (dtype == IMD_DTYPE_RGB8 || imd_dtype_is_complex(dtype))) {
        imd__text_printf(&job->notes, "%s: scl_slope %g ignored for %s data\n", job->header_name,
                         h.scl_slope, imd_dtype_name(dtype));
        scaled = false;
    }
    ImdNiftiPlacement p;
    if (!imd__nifti_placement_from_header(error, &h, &p)) {
        imd_error_prefix(error, "%s: ", job->header_name);
        imd__blob_close(&file);
        return NULL;
    }
    size_t n[3] = {(size_t)h.dim[1], h.dim[0] >= 2 ? (size_t)h.dim[2] : 1,
                   h.dim[0] >= 3 ? (size_t)h.dim[3] : 1};
    Tags tags = {0};
    int last = (int)h.dim[0];
    while (last > 4 && h.dim[last] == 1) {
        last--; /* trailing single dimensions are dropped */
    }
    if (last == 4 && h.dim[4] == 1) {
        last = 3;
    }
    size_t volumes = 1;
    for (int d = last; d >= 4; d--) {
        tags.shape[tags.ndim++] = (size_t)h.dim[d];
        volumes *= (size_t)h.dim[d];
    }
    Layout layout;
    if (!make_layout(error, &p.order, n, volumes, &layout)) {
        imd__blob_close(&file);
        return NULL;
    }
    size_t columns = layout.size[0], rows = layout.size[1], slices = layout.size[2];
    bool two_d = h.dim[0] <= 2 && slices == 1 && tags.ndim == 0;
    size_t shape[IMD_MAX_DIMS], ndim = 0;
    for (size_t d = 0; d < tags.ndim; d++) {
        shape[ndim++] = tags.shape[d];
    }
    if (!two_d) {
        shape[ndim++] = slices;
    }
    shape[ndim++] = rows;
    shape[ndim++] = columns;
    choose_order(job, &h, &tags);
    /*
     * Validate before allocating: the voxel bytes the header claims must be
     * in the file (or the .img) before the series array is made, and the
     * array must fit the memory limit (worker threads: the reader's context).
     */
    Source source = {0};
    ImdDType out_type = scaled ? IMD_DTYPE_FLOAT64 : dtype;
    uint64_t out_bytes = imd_dtype_size(out_type);
    for (size_t d = 0; d < ndim; d++) {
        out_bytes = shape[d] != 0 && out_bytes > UINT64_MAX / shape[d] ? UINT64_MAX
                                                                       : out_bytes * shape[d];
    }
    /* Headers only still checks the claim against the file (issue 22): an array
     * of zeros the input cannot back is not made either. */
    bool checked = !with_data && gzip && !h.pair;
    bool ok = (checked || open_data(error, job, &h, &file, gzip && with_data, bytes, &img,
                                    &source)) &&
              imd__check_alloc(error, job->reader->context, out_bytes, "the image");
    ImdSeries *series = ok ? imd_series_create(error, out_type, ndim, shape) : NULL;
    ok = series != NULL && imd_series_set_input_order(error, series, tags.order) &&
         set_tag_axes(error, &h, &tags, series) &&
         set_geometry(error, &h, &p, slices, rows, columns, series) &&
         set_tags(error, &tags, two_d ? 1 : slices, series);
    if (ok && with_data) {
        ok = fill_voxels(error, &h, dtype, scaled, &layout, &source, series,
                         job->reader->context);
    }
    source_close(&source);
    free(tags.bvals);
    free(tags.bvecs);
    imd__blob_close(&img);
    imd__blob_close(&file); /* member bytes are only borrowed: nothing to free then */
    if (!ok) {
        imd_error_prefix(error, "%s: ", job->header_name);
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

/* ---- finishing: jobs in parallel (imd__parallel, src/base/threads.c) ---- */

/* A pool task: each job keeps its own series or error (one bad file does not stop the others). */
static bool read_job(ImdError **error, void *user, size_t index)
{
    IMD__UNUSED(error);
    Job *job = &((Job *)user)[index];
    job->series = read_image(&job->error, job);
    return true;
}

/* Was a member of this name (in this archive) offered? */
static bool offered(const Reader *reader, const ImdArchive *archive, const char *name)
{
    for (size_t i = 0; i < reader->count; i++) {
        if (reader->members[i].file.archive == archive &&
            strcmp(reader->members[i].file.name, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool job_for_stem(const Job *jobs, size_t count, const ImdArchive *archive,
                         const char *stem)
{
    for (size_t i = 0; i < count; i++) {
        if (jobs[i].archive == archive && strcasecmp(jobs[i].stem, stem) == 0) {
            return true;
        }
    }
    return false;
}

/* One job per image: offered .nii/.nii.gz/.hdr members, and .hdr files of lone .img members. */
static bool make_jobs(ImdError **error, Reader *reader, Job *jobs, size_t *count)
{
    *count = 0;
    for (size_t i = 0; i < reader->count; i++) {
        Member *m = &reader->members[i];
        if (m->kind == KIND_BVAL || m->kind == KIND_BVEC) {
            continue;
        }
        Job *job = &jobs[*count];
        memset(job, 0, sizeof *job);
        job->reader = reader;
        job->archive = m->file.archive;
        job->stem = stem_of(error, m->file.name);
        if (job->stem == NULL) {
            return false;
        }
        if (m->kind == KIND_IMG) {
            char *hdr = sibling(error, job->stem, ".hdr", suffix_is_upper(m->file.name));
            bool lone = hdr != NULL && !offered(reader, m->file.archive, hdr);
            if (hdr == NULL || !lone || !member_exists(reader, m->file.archive, hdr)) {
                if (hdr != NULL && lone) {
                    imd_context_log(reader->context, IMD_LOG_INFO,
                                    "skipped %s: no %s beside it", m->file.name, hdr);
                }
                free(hdr);
                free(job->stem);
                if (hdr == NULL) {
                    return false;
                }
                continue; /* its .hdr is (or cannot be) read */
            }
            job->header_name = hdr;
        } else {
            job->member = m;
            job->header_name = imd__strdup(error, m->file.name);
            if (job->header_name == NULL) {
                free(job->stem);
                return false;
            }
        }
        (*count)++;
    }
    for (size_t i = 0; i < reader->count; i++) {
        Member *m = &reader->members[i];
        if (m->kind != KIND_BVAL && m->kind != KIND_BVEC) {
            continue;
        }
        char *stem = stem_of(NULL, m->file.name);
        if (stem != NULL && !job_for_stem(jobs, *count, m->file.archive, stem)) {
            imd_context_log(reader->context, IMD_LOG_INFO, "skipped %s: no NIfTI image beside it",
                            m->file.name);
        }
        free(stem);
    }
    return true;
}

static void free_job(Job *job)
{
    free(job->header_name);
    free(job->stem);
    imd_series_destroy(job->series);
    imd_error_clear(&job->error);
    imd__text_free(&job->notes);
}

static void log_notes(const Reader *reader, Job *job)
{
    char *notes = imd__text_finish(NULL, &job->notes);
    for (char *line = notes; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        imd_context_log(reader->context, IMD_LOG_WARNING, "%s", line);
        line = end != NULL ? end + 1 : NULL;
    }
    free(notes);
}

/* Each file a series, in member order. A file that fails is skipped with a
 * warning when others were read (as the DICOM reader skips broken files);
 * when none could be read, the first failure is the error. */
static ImdSeriesList *nifti_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    Job *jobs = imd__calloc(error, reader->count > 0 ? reader->count : 1, sizeof *jobs);
    ImdSeriesList *list = jobs != NULL ? imd_series_list_create(error) : NULL;
    size_t count = 0;
    bool ok = list != NULL && make_jobs(error, reader, jobs, &count);
    if (ok) {
        (void)imd__parallel(NULL, reader->context, count, read_job, jobs, NULL); /* never fails */
    }
    ImdError *first = NULL;
    for (size_t i = 0; ok && i < count; i++) {
        Job *job = &jobs[i];
        log_notes(reader, job);
        if (job->series == NULL) {
            if (imd_error_code(job->error) == IMD_ERR_NOMEM) {
                imd_error_propagate(error, job->error);
                job->error = NULL;
                ok = false;
            } else {
                imd_context_log(reader->context, IMD_LOG_WARNING, "skipped %s",
                                imd_error_message(job->error));
                if (first == NULL) {
                    first = job->error;
                    job->error = NULL;
                }
            }
            continue;
        }
        imd_context_log(reader->context, IMD_LOG_INFO, "NIfTI: %s: %zu dimensions, %s",
                        job->header_name, imd_series_ndim(job->series),
                        imd_dtype_name(imd_series_dtype(job->series)));
        ok = imd_series_list_add(error, list, job->series);
        if (ok) {
            job->series = NULL;
        }
    }
    if (ok && imd_series_list_count(list) == 0 && first != NULL) {
        imd_error_propagate(error, first);
        first = NULL;
        ok = false;
    }
    imd_error_clear(&first);
    for (size_t i = 0; jobs != NULL && i < count; i++) {
        free_job(&jobs[i]);
    }
    free(jobs);
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

/* ---- writing ---- */

typedef struct Output {
    char *image, *bval, *bvec; /* member names (bval/bvec NULL when not written) */
    char *img;                 /* the data half of a pair */
    bool gzip;
} Output;

static void free_output(Output *o)
{
    free(o->image);
    free(o->bval);
    free(o->bvec);
    free(o->img);
}

/* Output naming (behaviour.md §5.2, §7.3). */
static bool output_names(ImdError **error, const char *name, bool gzip, Output *o)
{
    memset(o, 0, sizeof *o);
    size_t length = name != NULL ? strlen(name) : 0;
    size_t suffix;
    Kind kind = length > 0 ? kind_of(name, &suffix) : KIND_OTHER;
    if (length == 0 || name[length - 1] == '/') {
        o->image = imd__sprintf(error, "%sImage%s", length > 0 ? name : "", gzip ? ".nii.gz" : ".nii");
        kind = gzip ? KIND_NII_GZ : KIND_NII;
    } else if (kind == KIND_NII || kind == KIND_NII_GZ) {
        o->image = imd__strdup(error, name);
    } else if (kind == KIND_HDR || kind == KIND_IMG) {
        bool upper = suffix_is_upper(name);
        char *stem = imd__strndup(error, name, length - suffix);
        o->image = stem != NULL ? sibling(error, stem, ".hdr", upper) : NULL;
        o->img = stem != NULL ? sibling(error, stem, ".img", upper) : NULL;
        free(stem);
        if (o->image == NULL || o->img == NULL) {
            free_output(o); /* one of the two may have been made */
            return false;
        }
    } else {
        o->image = imd__sprintf(error, "%s%s", name, gzip ? ".nii.gz" : ".nii");
        kind = gzip ? KIND_NII_GZ : KIND_NII;
    }
    o->gzip = kind == KIND_NII_GZ;
    return o->image != NULL;
}

/* The companions' names, when the order asks for them. */
static bool companion_names(ImdError **error, const ImdSeries *series, Output *o, int *b_axis,
                            int *vec_axis)
{
    /* The header's order, parsed whole (a long component name used to be cut
     * at 31 characters into a fixed buffer and so never matched an axis). */
    ImdInputOrder order;
    if (!imd__input_order_parse(error, imd_header_input_order(imd_series_const_header(series)),
                                &order)) {
        return false;
    }
    size_t tag_ndim = imd_series_tag_ndim(series);
    *b_axis = *vec_axis = -1;
    for (size_t k = 0; k < order.count; k++) {
        const char *component = order.names[k];
        int dim = imd_series_find_axis(series, component);
        if (dim >= 0 && (size_t)dim < tag_ndim) {
            if (strcmp(component, "b") == 0 || strcmp(component, "dti") == 0) {
                *b_axis = *b_axis < 0 ? dim : *b_axis;
            }
            if (strcmp(component, "bvector") == 0 || strcmp(component, "dti") == 0) {
                *vec_axis = *vec_axis < 0 ? dim : *vec_axis;
            }
        }
    }
    imd__input_order_clear(&order);
    size_t suffix;
    (void)kind_of(o->image, &suffix);
    char *stem = imd__strndup(error, o->image, strlen(o->image) - suffix);
    if (stem == NULL) {
        return false;
    }
    bool ok = true;
    if (*b_axis >= 0) {
        o->bval = imd__sprintf(error, "%s.bval", stem);
        ok = o->bval != NULL;
    }
    if (ok && *vec_axis >= 0) {
        o->bvec = imd__sprintf(error, "%s.bvec", stem);
        ok = o->bvec != NULL;
    }
    free(stem);
    return ok;
}

/* Shortest text that reads back as `value`; -0 written as 0. */
static void put_number(ImdText *text, double value)
{
    imd__json_number(text, value == 0 ? 0.0 : value);
}

/* bval: one line of b values. */
static char *bval_text(ImdError **error, const ImdAxis *axis)
{
    ImdText text = {0};
    for (size_t i = 0; i < imd_axis_length(axis); i++) {
        ImdValue v = {{0}, 0, 0};
        (void)imd_axis_value(axis, i, &v);
        imd__text_puts(&text, i > 0 ? " " : "");
        put_number(&text, v.count > 0 ? v.v[0] : 0);
    }
    imd__text_puts(&text, "\n");
    return imd__text_finish(error, &text);
}

/* bvec: three rows, each direction in the image's voxel frame (bvec_frame, as
 * dcm2niix writes it); a missing direction is 0 0 0. */
static char *bvec_text(ImdError **error, const ImdAxis *axis, const ImdNiftiHeader *h)
{
    ImdText text = {0};
    double frame[3][3];
    bool flip_x;
    bvec_frame(h, frame, &flip_x);
    for (int row = 0; row < 3; row++) {
        for (size_t i = 0; i < imd_axis_length(axis); i++) {
            ImdValue v = {{0}, 0, 0};
            (void)imd_axis_value(axis, i, &v);
            size_t first = v.kind == IMD_VALUE_B_VECTOR ? 1 : 0;
            double x = 0;
            if (v.count >= first + 3 && v.kind != IMD_VALUE_NUMBER) {
                for (int c = 0; c < 3; c++) {
                    x += v.v[first + (size_t)c] * frame[row][c];
                }
            }
            imd__text_puts(&text, i > 0 ? " " : "");
            put_number(&text, row == 0 && flip_x ? -x : x);
        }
        imd__text_puts(&text, "\n");
    }
    return imd__text_finish(error, &text);
}

static bool make_source(ImdError **error, const ImdSeries *series, size_t slices, size_t rows,
                        size_t columns, size_t volumes, ImdNiftiSource *source)
{
    const ImdHeader *header = imd_series_const_header(series);
    memset(source, 0, sizeof *source);
    imd_header_orientation(header, &source->row, &source->column);
    source->slices = slices;
    source->rows = rows;
    source->columns = columns;
    imd_series_spacing(series, source->spacing);
    if (!imd_header_image_position(header, 0, &source->first)) {
        source->first = (ImdVec3){0, 0, 0};
    }
    if (!imd_header_image_position(header, slices - 1, &source->last)) {
        ImdVec3 n = imd_header_normal(header);
        double distance = source->spacing[0] * (double)(slices - 1);
        source->last = (ImdVec3){source->first.x + n.x * distance,
                                 source->first.y + n.y * distance,
                                 source->first.z + n.z * distance};
    }
    /* The DICOM template's, read by keyword through the header (not the DICOM codec). */
    char *phase = NULL, *acquisition = NULL;
    if (!imd_header_template_string(error, header, "InPlanePhaseEncodingDirection", &phase) ||
        !imd_header_template_string(error, header, "MRAcquisitionType", &acquisition)) {
        imd_free(phase);
        return false;
    }
    source->phase_known = phase != NULL && (strcmp(phase, "ROW") == 0 || strcmp(phase, "COL") == 0);
    source->phase_is_row = phase != NULL && strcmp(phase, "ROW") == 0;
    /* dcm2niix reorients single 3D volumes only (geometry.c step 4). */
    source->acquisition_3d =
        acquisition != NULL && strcmp(acquisition, "3D") == 0 && volumes == 1;
    imd_free(phase);
    imd_free(acquisition);
    return true;
}

/* pixdim of a tag dimension: the time step, a uniform axis' step, else 1 (§5.2). */
static double tag_step(const ImdAxis *axis)
{
    const char *name = imd_axis_name(axis);
    double step = 1;
    if ((strcmp(name, "time") == 0 || strcmp(name, "triggertime") == 0) &&
        imd_axis_length(axis) >= 2) {
        step = imd_axis_number(axis, 1) - imd_axis_number(axis, 0);
    } else if (imd_axis_kind(axis) == IMD_AXIS_UNIFORM) {
        (void)imd_axis_step(axis, &step);
    }
    return isfinite(step) ? step : 1;
}

typedef struct Planned {
    ImdNiftiHeader header;
    uint8_t head[544];
    size_t head_size;
    Layout layout;       /* where each NIfTI voxel lies in the series */
    const uint8_t *data; /* the series' voxels (written in NIfTI order, never copied whole) */
    size_t size;         /* bytes of one element */
    size_t swap;         /* byte-swap unit on a big-endian host (1: none) */
    void *stored;        /* owned: the voxels as stored integers (stored_values), or NULL */
} Planned;

/*
 * Stored integers with scl_slope/scl_inter, as dcm2niix writes rescaled DICOM:
 * when the series' header says its float64 voxels are stored values times
 * StoredValueSlope plus StoredValueIntercept (the DICOM reader sets these
 * when every image shares one rescale), and every voxel is exactly such a
 * value of 16 bits, the file holds those integers (a quarter of the bytes)
 * and readers get the values back through the scaling. Anything else stays
 * float64. The slope and intercept are written as NIfTI's float32, as
 * dcm2niix does, so that both files read back to the same numbers.
 */
static bool stored_values(ImdError **error, const ImdSeries *series, Planned *plan)
{
    const ImdHeader *header = imd_series_const_header(series);
    const char *slope_text = imd_header_get_string(header, "StoredValueSlope");
    const char *intercept_text = imd_header_get_string(header, "StoredValueIntercept");
    if (imd_series_dtype(series) != IMD_DTYPE_FLOAT64 || slope_text == NULL ||
        intercept_text == NULL) {
        return true;
    }
    double slope = strtod(slope_text, NULL), intercept = strtod(intercept_text, NULL);
    size_t count = imd_series_count(series);
    const double *v = imd_series_const_data(series);
    if (!(isfinite(slope) && slope != 0 && isfinite(intercept)) || v == NULL) {
        return true;
    }
    double low = INFINITY, high = -INFINITY;
    for (size_t i = 0; i < count; i++) {
        double raw = nearbyint((v[i] - intercept) / slope);
        if (!(fabs(raw * slope + intercept - v[i]) <= 1e-9 * fmax(1, fabs(v[i])))) {
            return true; /* not a stored value (computed data): keep float64 */
        }
        low = raw < low ? raw : low;
        high = raw > high ? raw : high;
    }
    bool is_signed = low < 0;
    if (count == 0 || low < (is_signed ? -32768 : 0) || high > (is_signed ? 32767 : 65535)) {
        return true;
    }
    int16_t *out16 = NULL;
    uint16_t *outu16 = NULL;
    void *out = imd__malloc(error, count * sizeof(uint16_t));
    if (out == NULL) {
        return false;
    }
    if (is_signed) {
        out16 = out;
    } else {
        outu16 = out;
    }
    for (size_t i = 0; i < count; i++) {
        double raw = nearbyint((v[i] - intercept) / slope);
        if (is_signed) {
            out16[i] = (int16_t)raw;
        } else {
            outu16[i] = (uint16_t)raw;
        }
    }
    ImdDType dtype = is_signed ? IMD_DTYPE_INT16 : IMD_DTYPE_UINT16;
    plan->stored = out;
    plan->data = out;
    plan->size = 2;
    plan->swap = host_is_little_endian() ? 1 : swap_unit(dtype);
    plan->header.datatype = imd__nifti_datatype(dtype, &plan->header.bitpix);
    plan->header.scl_slope = (float)slope;
    plan->header.scl_inter = (float)intercept;
    plan->head_size = imd__nifti_encode(&plan->header, plan->head);
    return true;
}

static bool plan_image(ImdError **error, const ImdSeries *series, const ImdOptions *options,
                       bool pair, Planned *plan)
{
    size_t tag_ndim = imd_series_tag_ndim(series);
    size_t slices = imd_series_slices(series), rows = imd_series_rows(series);
    size_t columns = imd_series_columns(series), volumes = 1;
    for (size_t d = 0; d < tag_ndim && d < 4; d++) {
        volumes *= imd_series_dim(series, d);
    }
    if (tag_ndim > 4) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "NIfTI holds at most 4 tag dimensions, the "
                      "series has %zu", tag_ndim);
        return false;
    }
    size_t count = 0;
    if (!imd__mul_size(volumes, slices, &count) || !imd__mul_size(count, rows, &count) ||
        !imd__mul_size(count, columns, &count) || count != imd_series_count(series)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "NIfTI: the series' axes (%zu tag dimensions, "
                      "%zu slices, %zu rows, %zu columns) do not describe its %zu voxels",
                      tag_ndim, slices, rows, columns, imd_series_count(series));
        return false;
    }
    ImdDType dtype = imd_series_dtype(series);
    ImdNiftiHeader *h = &plan->header;
    h->datatype = imd__nifti_datatype(dtype, &h->bitpix);
    if (h->datatype == 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "NIfTI cannot hold %s data",
                      imd_dtype_name(dtype));
        return false;
    }
    ImdNiftiSource source;
    ImdNiftiGeometry g;
    if (!make_source(error, series, slices, rows, columns, volumes, &source) ||
        !imd__nifti_geometry_from_source(error, &source, &g)) {
        return false;
    }
    size_t series_size[3] = {columns, rows, slices}, n[3];
    bool big = false, nifti2 = false;
    for (int a = 0; a < 3; a++) {
        int s = g.order.source[a];
        n[a] = s >= 0 && s <= 2 ? series_size[s] : 1;
    }
    Layout *layout = &plan->layout;
    if (!make_layout(error, &g.order, n, volumes, layout) ||
        !imd_options_get_bool(error, options, "nifti2", false, &nifti2)) {
        return false;
    }
    h->dim[0] = 3 + (int64_t)tag_ndim;
    if (tag_ndim == 0 && imd_series_ndim(series) <= 2 && n[2] == 1) {
        h->dim[0] = 2;
    }
    for (int a = 0; a < 3; a++) {
        h->dim[a + 1] = (int64_t)n[a];
        h->pixdim[a + 1] = g.pixdim[a];
    }
    for (size_t d = 0; d < tag_ndim; d++) {
        size_t at = 4 + (tag_ndim - 1 - d);
        h->dim[at] = (int64_t)imd_series_dim(series, d);
        h->pixdim[at] = tag_step(imd_series_axis(series, d));
    }
    for (int i = 1; i < 8; i++) {
        h->dim[i] = i <= h->dim[0] ? h->dim[i] : 1;
        big = big || h->dim[i] > 32767;
    }
    h->version = nifti2 || big ? 2 : 1;
    h->pair = pair;
    h->pixdim[0] = g.qfac;
    h->vox_offset = pair ? 0 : h->version == 2 ? 544 : 352;
    h->scl_slope = 1;
    h->scl_inter = 0;
    h->dim_info = g.dim_info;
    h->xyzt_units = 2 | 8; /* mm, s */
    h->qform_code = 1;
    h->sform_code = 1;
    h->quatern_b = g.quatern[0];
    h->quatern_c = g.quatern[1];
    h->quatern_d = g.quatern[2];
    h->qoffset_x = g.quatern[3];
    h->qoffset_y = g.quatern[4];
    h->qoffset_z = g.quatern[5];
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            h->srow[r][c] = g.sform[r][c];
        }
    }
    (void)snprintf(h->descrip, sizeof h->descrip, "flip_slice=0"); /* as the original writes */
    plan->head_size = imd__nifti_encode(h, plan->head); /* with the extension flag */
    plan->data = imd_series_const_data(series);
    plan->size = imd_dtype_size(dtype);
    plan->swap = host_is_little_endian() ? 1 : swap_unit(dtype);
    if (plan->size == 0 || plan->size > PIECE || (count > 0 && plan->data == NULL)) {
        imd_error_set(error, IMD_ERR_INTERNAL, "NIfTI: %s elements of %zu bytes",
                      imd_dtype_name(dtype), plan->size);
        return false;
    }
    return stored_values(error, series, plan);
}

/* Where the voxels go: a plain stream (.nii, .img) or a gzip writer (.nii.gz). */
typedef struct Sink {
    ImdStream *stream;
    ImdGzipWriter *gzip;
} Sink;

static bool sink_write(ImdError **error, const Sink *sink, const void *data, size_t size)
{
    return sink->gzip != NULL ? imd__gzip_writer_write(error, sink->gzip, data, size)
                              : imd_stream_write(error, sink->stream, data, size);
}

/* The series laid out as NIfTI (Layout, every volume) is the series' own bytes. */
static bool layout_is_identity(const Layout *l)
{
    return l->base == 0 && l->step[0] == 1 && (size_t)l->step[1] == l->n[0] &&
           (size_t)l->step[2] == l->n[0] * l->n[1];
}

/*
 * Write the voxels in NIfTI order (little endian), PIECE bytes at a time:
 * straight from the series when its layout is NIfTI's, else gathered row
 * by row (rows split across pieces) into one PIECE buffer.
 */
static bool write_voxels(ImdError **error, const Planned *plan, const Sink *sink)
{
    const Layout *l = &plan->layout;
    size_t size = plan->size, total = l->volumes * l->volume * size; /* the series' bytes */
    if (total == 0) {
        return true;
    }
    if (plan->swap <= 1 && layout_is_identity(l)) {
        for (size_t at = 0; at < total; at += PIECE) {
            size_t take = total - at < PIECE ? total - at : PIECE;
            if (!sink_write(error, sink, plan->data + at, take)) {
                return false;
            }
        }
        return true;
    }
    uint8_t *piece = imd__malloc(error, PIECE);
    if (piece == NULL) {
        return false;
    }
    /* move_row() only reads the series side when filling the NIfTI side. */
    uint8_t *series = (uint8_t *)(uintptr_t)plan->data;
    size_t fill = 0;
    bool ok = true;
    for (size_t t = 0; ok && t < l->volumes; t++) {
        uint8_t *volume = series + t * l->volume * size;
        for (size_t k = 0; ok && k < l->n[2]; k++) {
            for (size_t j = 0; ok && j < l->n[1]; j++) {
                ptrdiff_t at = (ptrdiff_t)l->base + (ptrdiff_t)j * l->step[1] +
                               (ptrdiff_t)k * l->step[2];
                for (size_t i = 0; ok && i < l->n[0];) {
                    size_t room = (PIECE - fill) / size, left = l->n[0] - i;
                    size_t take = left < room ? left : room;
                    move_row(volume + (at + (ptrdiff_t)i * l->step[0]) * (ptrdiff_t)size,
                             l->step[0], piece + fill, take, size, false);
                    fill += take * size;
                    i += take;
                    if (PIECE - fill < size) {
                        swap_bytes(piece, fill, plan->swap);
                        ok = sink_write(error, sink, piece, fill);
                        fill = 0;
                    }
                }
            }
        }
    }
    if (ok && fill > 0) {
        swap_bytes(piece, fill, plan->swap);
        ok = sink_write(error, sink, piece, fill);
    }
    free(piece);
    return ok;
}

/* The members of one series: the image (or .hdr), .img, .bval, .bvec. */
#define MAX_PENDING 4

typedef struct Pending {
    ImdStream *streams[MAX_PENDING];
    size_t count;
} Pending;

static ImdStream *open_output(ImdError **error, ImdArchive *archive, const char *name,
                              Pending *pending)
{
    if (pending->count == MAX_PENDING) {
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: more than %d members for one series", name,
                      MAX_PENDING);
        return NULL;
    }
    ImdStream *stream = imd_archive_open_member(error, archive, name, IMD_MODE_WRITE);
    if (stream != NULL) {
        pending->streams[pending->count++] = stream;
    }
    return stream;
}

static bool write_text_member(ImdError **error, ImdArchive *archive, const char *name,
                              const char *text, Pending *pending)
{
    ImdStream *stream = open_output(error, archive, name, pending);
    return stream != NULL && imd_stream_write(error, stream, text, strlen(text));
}

/* Write every member, then commit them all; nothing is committed after a failure. */
static bool write_members(ImdError **error, ImdArchive *archive, const Output *o,
                          const Planned *plan, int level, const char *bval, const char *bvec)
{
    Pending pending = {{NULL}, 0};
    Sink sink = {open_output(error, archive, o->image, &pending), NULL};
    bool ok = sink.stream != NULL;
    if (ok && o->gzip) {
        sink.gzip = imd__gzip_writer_open(error, sink.stream, level);
        ok = sink.gzip != NULL && sink_write(error, &sink, plan->head, plan->head_size) &&
             write_voxels(error, plan, &sink);
        if (ok) {
            ok = imd__gzip_writer_close(error, sink.gzip); /* frees it */
        } else {
            imd__gzip_writer_abort(sink.gzip);
        }
        sink.gzip = NULL;
    } else if (ok) {
        ok = sink_write(error, &sink, plan->head, plan->head_size);
        if (ok && o->img != NULL) {
            sink.stream = open_output(error, archive, o->img, &pending);
            ok = sink.stream != NULL;
        }
        ok = ok && write_voxels(error, plan, &sink);
    }
    ok = ok && (bval == NULL || write_text_member(error, archive, o->bval, bval, &pending));
    ok = ok && (bvec == NULL || write_text_member(error, archive, o->bvec, bvec, &pending));
    size_t i = 0;
    for (; ok && i < pending.count; i++) {
        ok = imd_stream_close(error, pending.streams[i]);
    }
    for (; i < pending.count; i++) {
        imd_stream_abort(pending.streams[i]);
    }
    return ok;
}

static bool nifti_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                        const char *name, const ImdOptions *options)
{
    if (series == NULL || destination == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "NIfTI write: no series or destination");
        return false;
    }
    int64_t level = 6;
    if (!imd_options_get_int(error, options, "gzip_level", 6, &level)) {
        return false;
    }
    if (level < 1 || level > 9) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip_level %lld (1 to 9 allowed)",
                      (long long)level);
        return false;
    }
    Output o;
    bool gzip = true; /* gzip=false: a name without suffix becomes .nii (image_data --no-gzip) */
    if (!imd_options_get_bool(error, options, "gzip", true, &gzip) ||
        !output_names(error, name, gzip, &o)) {
        return false;
    }
    Planned plan;
    memset(&plan, 0, sizeof plan);
    int b_axis, vec_axis;
    char *bval = NULL, *bvec = NULL;
    bool ok = companion_names(error, series, &o, &b_axis, &vec_axis) &&
              plan_image(error, series, options, o.img != NULL, &plan);
    if (ok && b_axis >= 0) {
        bval = bval_text(error, imd_series_axis(series, (size_t)b_axis));
        ok = bval != NULL;
    }
    if (ok && vec_axis >= 0) {
        bvec = bvec_text(error, imd_series_axis(series, (size_t)vec_axis), &plan.header);
        ok = bvec != NULL;
    }
    ok = ok && write_members(error, destination, &o, &plan, (int)level, bval, bvec);
    if (!ok) {
        imd_error_prefix(error, "%s: ", o.image != NULL ? o.image : "NIfTI");
    }
    free(bval);
    free(bvec);
    free(plan.stored);
    free_output(&o);
    return ok;
}

static const char *const nifti_suffixes[] = {".nii", ".nii.gz", ".hdr", ".img", NULL};

/* docs/nifti.md. */
static const ImdOptionSpec nifti_options[] = {
    {"input_order", IMD_OPTION_ORDER, "names of the dimensions 4 and up (auto: b/dti from "
     ".bval/.bvec, else none)", NULL},
    {"headers_only", IMD_OPTION_BOOL, "read the header, leave the voxels zero", NULL},
    {"gzip", IMD_OPTION_BOOL, "a name without suffix becomes .nii.gz (true) or .nii", NULL},
    {"gzip_level", IMD_OPTION_INT, "deflate level 1 to 9 of .nii.gz output", NULL},
    {"nifti2", IMD_OPTION_BOOL, "write NIfTI-2 (64-bit dimensions)", NULL},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__nifti_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "nifti",
    .description = "NIfTI-1 and NIfTI-2 (.nii, .nii.gz, .hdr/.img; .bval/.bvec)",
    .suffixes = nifti_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = nifti_probe,
    .reader_create = nifti_reader_create,
    .reader_add = nifti_reader_add,
    .reader_finish = nifti_reader_finish,
    .reader_destroy = nifti_reader_destroy,
    .write = nifti_write,
    .options = nifti_options,
};
