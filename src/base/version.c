/* version.c: the version text, from project(VERSION) through version.h. */
#include "internal.h"

const char *imd_version(void)
{
    return IMD_VERSION_STRING;
}
