/* vr.c: value representations (PS3.5 §6.2): names and the properties the codec needs. */
#include "dicom_internal.h"

static const char *const vr_names[] = {
    [IMD_VR_AE] = "AE", [IMD_VR_AS] = "AS", [IMD_VR_AT] = "AT", [IMD_VR_CS] = "CS",
    [IMD_VR_DA] = "DA", [IMD_VR_DS] = "DS", [IMD_VR_DT] = "DT", [IMD_VR_FD] = "FD",
    [IMD_VR_FL] = "FL", [IMD_VR_IS] = "IS", [IMD_VR_LO] = "LO", [IMD_VR_LT] = "LT",
    [IMD_VR_OB] = "OB", [IMD_VR_OD] = "OD", [IMD_VR_OF] = "OF", [IMD_VR_OL] = "OL",
    [IMD_VR_OV] = "OV", [IMD_VR_OW] = "OW", [IMD_VR_PN] = "PN", [IMD_VR_SH] = "SH",
    [IMD_VR_SL] = "SL", [IMD_VR_SQ] = "SQ", [IMD_VR_SS] = "SS", [IMD_VR_ST] = "ST",
    [IMD_VR_SV] = "SV", [IMD_VR_TM] = "TM", [IMD_VR_UC] = "UC", [IMD_VR_UI] = "UI",
    [IMD_VR_UL] = "UL", [IMD_VR_UN] = "UN", [IMD_VR_UR] = "UR", [IMD_VR_US] = "US",
    [IMD_VR_UT] = "UT", [IMD_VR_UV] = "UV",
    /* dictionary-only choices, as PS3.6 writes them */
    [IMD_VR_OB_OW] = "OB or OW", [IMD_VR_US_SS] = "US or SS",
    [IMD_VR_US_SS_OW] = "US or SS or OW", [IMD_VR_NONE] = "NONE",
};

const char *imd_dicom_vr_name(ImdVR vr)
{
    if ((unsigned)vr >= sizeof vr_names / sizeof vr_names[0]) {
        return NULL;
    }
    return vr_names[vr]; /* NULL for the gaps */
}

bool imd_dicom_vr_from_name(const char *name, ImdVR *vr)
{
    if (name == NULL || name[0] < 'A' || name[0] > 'Z' || name[1] < 'A' || name[1] > 'Z' ||
        name[2] != '\0') {
        return false;
    }
    for (int i = IMD_VR_AE; i <= IMD_VR_UV; i++) {
        if (name[0] == vr_names[i][0] && name[1] == vr_names[i][1]) {
            if (vr != NULL) {
                *vr = (ImdVR)i;
            }
            return true;
        }
    }
    return false;
}

bool imd_dicom_vr_is_text(ImdVR vr)
{
    switch (vr) {
    case IMD_VR_AE: case IMD_VR_AS: case IMD_VR_CS: case IMD_VR_DA: case IMD_VR_DS:
    case IMD_VR_DT: case IMD_VR_IS: case IMD_VR_LO: case IMD_VR_LT: case IMD_VR_PN:
    case IMD_VR_SH: case IMD_VR_ST: case IMD_VR_TM: case IMD_VR_UC: case IMD_VR_UI:
    case IMD_VR_UR: case IMD_VR_UT:
        return true;
    default:
        return false;
    }
}

/*
 * PS3.5 §7.1.2, Table 7.1-1: these VRs have a 2-byte reserved field and a
 * 4-byte length in explicit VR; the others a 2-byte length. Of the dictionary
 * choices, "OB or OW" is long either way; the US/SS ones are not (US_SS_OW
 * must be resolved before it is written).
 */
bool imd__dicom_vr_has_long_length(ImdVR vr)
{
    switch (vr) {
    case IMD_VR_OB: case IMD_VR_OD: case IMD_VR_OF: case IMD_VR_OL: case IMD_VR_OV:
    case IMD_VR_OW: case IMD_VR_SQ: case IMD_VR_SV: case IMD_VR_UC: case IMD_VR_UN:
    case IMD_VR_UR: case IMD_VR_UT: case IMD_VR_UV: case IMD_VR_OB_OW:
        return true;
    default:
        return false;
    }
}

/* PS3.5 §6.2: text pads with a space, UI and binary values with a NUL byte. */
uint8_t imd__dicom_vr_pad(ImdVR vr)
{
    return vr != IMD_VR_UI && imd_dicom_vr_is_text(vr) ? (uint8_t)' ' : (uint8_t)'\0';
}

/* Bytes per value: the byte-swapping unit of big-endian data; 1 for text and bytes. */
size_t imd__dicom_vr_unit(ImdVR vr)
{
    switch (vr) {
    case IMD_VR_OW: case IMD_VR_SS: case IMD_VR_US: case IMD_VR_US_SS: case IMD_VR_US_SS_OW:
        return 2;
    case IMD_VR_AT: case IMD_VR_FL: case IMD_VR_OF: case IMD_VR_OL: case IMD_VR_SL:
    case IMD_VR_UL:
        return 4;
    case IMD_VR_FD: case IMD_VR_OD: case IMD_VR_OV: case IMD_VR_SV: case IMD_VR_UV:
        return 8;
    default:
        return 1;
    }
}
