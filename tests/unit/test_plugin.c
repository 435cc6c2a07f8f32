/*
 * test_plugin.c: the plugin registry and loader: built-ins, loading the
 * example plugin, refusing ABI mismatches and files that are not plugins.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include <stdlib.h>

static const char *plugin_path(const char *variable)
{
    const char *path = getenv(variable);
    return path != NULL && path[0] != '\0' ? path : NULL;
}

IMD_TEST(builtins)
{
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    CHECK_INT(imd_context_archive_count(context), 2);
    CHECK_STR(imd_context_archive(context, 0)->name, "zip");
    CHECK_STR(imd_context_archive(context, 1)->name, "folder");
    CHECK_INT(imd_context_transport_count(context), 2);
    CHECK_STR(imd_context_transport(context, 0)->name, "file");
    CHECK_STR(imd_context_transport(context, 1)->name, "dicom");
    CHECK(imd_context_find_format(context, "dicom") != NULL);
    CHECK(imd_context_find_format(context, "imdraw") == NULL);
    CHECK(imd_context_archive(context, 5) == NULL);
    imd_context_destroy(context);
    imd_context_destroy(NULL);
}

IMD_TEST(load_example)
{
    const char *path = plugin_path("IMD_EXAMPLE_PLUGIN");
    if (path == NULL) {
        IMD_SKIP("IMD_EXAMPLE_PLUGIN is not set (run through ctest)");
    }
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    size_t before = imd_context_format_count(context);
    CHECK_OK(error, imd_context_load_plugin(&error, context, path));
    CHECK_INT(imd_context_format_count(context), before + 1);
    const ImdFormatPlugin *format = imd_context_format(context, 0); /* loaded go first */
    REQUIRE(format != NULL);
    CHECK_STR(format->name, "imdraw");
    CHECK(imd_context_find_format(context, "IMDRAW") == format);
    CHECK_INT(format->abi_version, IMD_PLUGIN_ABI_VERSION);
    /* The same names again: refused, nothing added. */
    CHECK_FAILS(error, imd_context_load_plugin(&error, context, path), IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_context_format_count(context), before + 1);
    imd_context_destroy(context);
}

IMD_TEST(abi_mismatch_refused)
{
    const char *path = plugin_path("IMD_BADABI_PLUGIN");
    if (path == NULL) {
        IMD_SKIP("IMD_BADABI_PLUGIN is not set (run through ctest)");
    }
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    size_t before = imd_context_format_count(context);
    CHECK(!imd_context_load_plugin(&error, context, path));
    CHECK_INT(imd_error_code(error), IMD_ERR_PLUGIN_ABI);
    CHECK(strstr(imd_error_message(error), "999") != NULL);
    CHECK(strstr(imd_error_message(error), path) != NULL);
    imd_error_clear(&error);
    CHECK_INT(imd_context_format_count(context), before); /* nothing registered */
    imd_context_destroy(context);
}

IMD_TEST(not_a_plugin)
{
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    CHECK_FAILS(error, imd_context_load_plugin(&error, context, "/nonexistent/plugin.so"),
                IMD_ERR_NOT_FOUND);
    /* A file that is no shared object. */
    const char *tmp = getenv("IMD_TEST_TMP");
    char text_path[1024];
    snprintf(text_path, sizeof text_path, "%s/not_a_plugin.so", tmp != NULL ? tmp : "/tmp");
    FILE *file = fopen(text_path, "w");
    REQUIRE(file != NULL);
    fputs("just text\n", file);
    fclose(file);
    CHECK_FAILS(error, imd_context_load_plugin(&error, context, text_path), IMD_ERR_PLUGIN_ABI);
    remove(text_path);
    /* A real shared object without our entry point: zlib. */
    static const char *const libz[] = {"/lib/x86_64-linux-gnu/libz.so.1",
                                       "/usr/lib/x86_64-linux-gnu/libz.so.1"};
    for (size_t i = 0; i < 2; i++) {
        FILE *probe = fopen(libz[i], "rb");
        if (probe != NULL) {
            fclose(probe);
            CHECK(!imd_context_load_plugin(&error, context, libz[i]));
            CHECK_INT(imd_error_code(error), IMD_ERR_PLUGIN_ABI);
            CHECK(strstr(imd_error_message(error), IMD_PLUGIN_ENTRY_SYMBOL) != NULL);
            imd_error_clear(&error);
            break;
        }
    }
    CHECK_FAILS(error, imd_context_load_plugin(&error, context, ""), IMD_ERR_INVALID_ARG);
    CHECK(imd_context_find_format(context, "imdraw") == NULL); /* nothing registered */
    imd_context_destroy(context);
}

IMD_TEST(plugin_list)
{
    const char *good = plugin_path("IMD_EXAMPLE_PLUGIN");
    if (good == NULL) {
        IMD_SKIP("IMD_EXAMPLE_PLUGIN is not set (run through ctest)");
    }
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    CHECK_OK(error, imd_context_load_plugin_list(&error, context, NULL));
    CHECK_OK(error, imd_context_load_plugin_list(&error, context, "::"));
    char list[2048];
    snprintf(list, sizeof list, "%s:/nonexistent/x.so", good);
    CHECK_FAILS(error, imd_context_load_plugin_list(&error, context, list), IMD_ERR_NOT_FOUND);
    CHECK(imd_context_find_format(context, "imdraw") != NULL); /* the first one stays loaded */
    imd_context_destroy(context);
}

IMD_TEST_MAIN(IMD_CASE(builtins), IMD_CASE(load_example), IMD_CASE(abi_mismatch_refused),
              IMD_CASE(not_a_plugin), IMD_CASE(plugin_list))
