/*
 * mosaic.c: images that hold several slices as tiles of one frame.
 *
 * Siemens EPI and DWI (ImageType contains MOSAIC): NumberOfImagesInMosaic
 * from the CSA image header, tiles on a square grid of ceil(sqrt(n)) per
 * row, the slice direction from the CSA SliceNormalVector (it tells
 * ascending from descending acquisitions). ImagePositionPatient is that of
 * the whole mosaic as one large image, so the first tile's position is moved
 * by half the size difference along the row and column directions (see
 * nibabel's documentation "Siemens mosaic format"; the test data is
 * dcm_qa_stc/In/Siemens/B12 ... E11).
 *
 * United Imaging (UIH) DTI/fMRI "VFRAME" images: the tile count in
 * (0065,xx50) and one ImagePositionPatient per tile in the items of
 * (0065,xx51), creator "Image Private Header"; tiles fill rows of
 * Columns / tile columns (dcm_qa_stc/In/UIH).
 */
#include "formats/dicom/dicom_format.h"

#include <math.h>
#include <stdio.h>

#define MAX_TILES 4096

static const ImdDicomElement *find(const ImdDicomDataSet *d, uint32_t tag)
{
    return imd_dicom_dataset_find(d, tag);
}

static bool number_of(const ImdDicomDataSet *d, uint32_t tag, size_t i, double *v)
{
    const ImdDicomElement *element = find(d, tag);
    return element != NULL && imd_dicom_element_number(NULL, element, i, v);
}

static bool vector_of(const ImdDicomDataSet *d, uint32_t tag, size_t first, ImdVec3 *v)
{
    double x, y, z;
    if (!number_of(d, tag, first, &x) || !number_of(d, tag, first + 1, &y) ||
        !number_of(d, tag, first + 2, &z)) {
        return false;
    }
    *v = (ImdVec3){x, y, z};
    return true;
}

static bool image_type_has(const ImdDicomDataSet *d, const char *value)
{
    const ImdDicomElement *e = find(d, IMD_TAG_ImageType);
    char *text = e != NULL ? imd_dicom_element_string(NULL, d, e) : NULL;
    bool found = false;
    for (char *part = text; part != NULL && !found;) {
        char *next = strchr(part, '\\');
        if (next != NULL) {
            *next++ = '\0';
        }
        found = strcmp(part, value) == 0;
        part = next;
    }
    free(text);
    return found;
}

void imd__dicom_mosaic_free(ImdMosaic *mosaic)
{
    if (mosaic != NULL) {
        free(mosaic->positions);
        memset(mosaic, 0, sizeof *mosaic);
    }
}

static bool allocate_positions(ImdError **error, ImdMosaic *m)
{
    m->positions = imd__calloc(error, m->count, sizeof *m->positions);
    return m->positions != NULL;
}

/* The grid must fit the frame: tiles * tile size within Rows x Columns. */
static bool check_grid(ImdError **error, const ImdMosaic *m, uint32_t rows, uint32_t columns,
                       const char *vendor)
{
    uint32_t grid_rows = (m->count + m->per_row - 1) / m->per_row;
    if (m->tile_rows == 0 || m->tile_columns == 0 || m->per_row == 0 ||
        (uint64_t)m->per_row * m->tile_columns > columns ||
        (uint64_t)grid_rows * m->tile_rows > rows) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s mosaic of %u tiles (%u per row) of %ux%u does not fit its %ux%u frame",
                      vendor, m->count, m->per_row, m->tile_rows, m->tile_columns, rows, columns);
        return false;
    }
    return true;
}

/* ---- Siemens ---- */

static bool siemens_mosaic(ImdError **error, const ImdDicomDataSet *d, uint32_t rows,
                           uint32_t columns, ImdMosaic *m)
{
    ImdSiemensImage csa;
    if (!imd__siemens_image(error, d, &csa)) {
        return false;
    }
    bool ok = true;
    if (csa.mosaic_images > 1) {
        m->count = csa.mosaic_images;
        m->per_row = (uint32_t)ceil(sqrt((double)m->count));
        m->tile_rows = rows / m->per_row;
        m->tile_columns = columns / m->per_row;
        ImdVec3 ipp, row, column;
        double spacing_rows, spacing_columns, step = 0;
        ok = m->count <= MAX_TILES && check_grid(error, m, rows, columns, "Siemens");
        if (ok &&
            (!vector_of(d, IMD_TAG_ImagePositionPatient, 0, &ipp) ||
             !vector_of(d, IMD_TAG_ImageOrientationPatient, 0, &row) ||
             !vector_of(d, IMD_TAG_ImageOrientationPatient, 3, &column) ||
             !number_of(d, IMD_TAG_PixelSpacing, 0, &spacing_rows) ||
             !number_of(d, IMD_TAG_PixelSpacing, 1, &spacing_columns) || !csa.has_slice_normal)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "Siemens mosaic of %u tiles without "
                          "ImagePositionPatient, ImageOrientationPatient, PixelSpacing or the "
                          "CSA SliceNormalVector", m->count);
            ok = false;
        }
        if (ok && !number_of(d, IMD_TAG_SpacingBetweenSlices, 0, &step) &&
            !number_of(d, IMD_TAG_SliceThickness, 0, &step)) {
            step = 1;
        }
        ok = ok && allocate_positions(error, m);
        if (ok) {
            /* PixelSpacing is (row spacing, column spacing): moving along a row (the row
             * cosine) steps by the column spacing. */
            double along_row = spacing_columns * (double)(columns - m->tile_columns) / 2;
            double along_column = spacing_rows * (double)(rows - m->tile_rows) / 2;
            ImdVec3 n = csa.slice_normal;
            for (uint32_t k = 0; k < m->count; k++) {
                m->positions[k] = (ImdVec3){
                    ipp.x + row.x * along_row + column.x * along_column + n.x * step * k,
                    ipp.y + row.y * along_row + column.y * along_column + n.y * step * k,
                    ipp.z + row.z * along_row + column.z * along_column + n.z * step * k};
            }
        }
    }
    imd__siemens_image_free(&csa);
    return ok;
}

/* ---- United Imaging ---- */

static bool uih_mosaic(ImdError **error, const ImdDicomDataSet *d, uint32_t rows,
                       uint32_t columns, ImdMosaic *m)
{
    uint16_t block = imd__dicom_private_block_of(d, IMD_PRIVATE_UihMosaicTileCount);
    double count;
    if (block == 0 ||
        !number_of(d, imd__private_tag_at(IMD_PRIVATE_UihMosaicTileCount, block), 0, &count) ||
        count <= 1) {
        return true;
    }
    uint32_t positions = imd__private_tag_at(IMD_PRIVATE_UihMosaicTilePositions, block);
    const ImdDicomElement *items = find(d, positions);
    size_t n = items != NULL ? imd_dicom_element_item_count(items) : 0;
    if (!(count <= MAX_TILES) || n != (size_t)count) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "UIH mosaic of %g tiles with %zu positions in (%04X,%04X)", count, n,
                      (unsigned)IMD_TAG_GROUP(positions), (unsigned)IMD_TAG_ELEMENT(positions));
        return false;
    }
    m->count = (uint32_t)count;
    /* Tile size: "64*64" in (0065,xx04) where present, else a square grid. */
    const ImdDicomElement *size =
        find(d, imd__private_tag_at(IMD_PRIVATE_UihMosaicTileSize, block));
    char *text = size != NULL ? imd_dicom_element_string(NULL, d, size) : NULL;
    unsigned tile_rows = 0, tile_columns = 0;
    if (text == NULL || sscanf(text, "%u*%u", &tile_rows, &tile_columns) != 2) {
        uint32_t side = (uint32_t)ceil(sqrt((double)m->count));
        tile_rows = rows / side;
        tile_columns = columns / side;
    }
    free(text);
    m->tile_rows = tile_rows;
    m->tile_columns = tile_columns;
    m->per_row = tile_columns > 0 ? columns / tile_columns : 0;
    if (!check_grid(error, m, rows, columns, "UIH") || !allocate_positions(error, m)) {
        return false;
    }
    for (uint32_t k = 0; k < m->count; k++) {
        if (!vector_of(imd_dicom_element_item(items, k), IMD_TAG_ImagePositionPatient, 0,
                       &m->positions[k])) {
            imd_error_set(error, IMD_ERR_CORRUPT, "UIH mosaic tile %u has no ImagePositionPatient",
                          k);
            return false;
        }
    }
    return true;
}

bool imd__dicom_mosaic(ImdError **error, const ImdDicomDataSet *d, const ImdPixelFormat *format,
                       ImdMosaic *mosaic)
{
    memset(mosaic, 0, sizeof *mosaic);
    bool ok = true;
    if (format->frames == 1 && image_type_has(d, "MOSAIC")) {
        ok = siemens_mosaic(error, d, format->rows, format->columns, mosaic);
    } else if (format->frames == 1 && image_type_has(d, "VFRAME")) {
        ok = uih_mosaic(error, d, format->rows, format->columns, mosaic);
    }
    if (!ok) {
        imd__dicom_mosaic_free(mosaic);
    }
    return ok;
}

void imd__dicom_mosaic_tile(const ImdMosaic *mosaic, uint32_t tile, const void *frame,
                            size_t frame_columns, size_t element_size, void *out)
{
    size_t grid_row = tile / mosaic->per_row, grid_column = tile % mosaic->per_row;
    const uint8_t *source = (const uint8_t *)frame +
                            (grid_row * mosaic->tile_rows * frame_columns +
                             grid_column * mosaic->tile_columns) * element_size;
    size_t line = mosaic->tile_columns * element_size;
    for (size_t r = 0; r < mosaic->tile_rows; r++) {
        memcpy((uint8_t *)out + r * line, source + r * frame_columns * element_size, line);
    }
}
