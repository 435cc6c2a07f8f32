/* test_url.c: URL splitting, "%p", member patterns and safe member names (url.h). */
#include "imd_test.h"

#include <imagedata/url.h>

#include "internal.h"

/* Parse `text`, which must succeed; the caller destroys the result. */
static ImdUrl *parse_ok(const char *text)
{
    ImdError *error = NULL;
    ImdUrl *url = imd_url_parse(&error, text);
    if (url == NULL) {
        fprintf(stderr, "parse \"%s\": %s\n", text, imd_error_message(error));
        imd_error_clear(&error);
    } else if (error != NULL) {
        fprintf(stderr, "parse \"%s\": error set on success\n", text);
        imd_error_clear(&error);
        imd_url_destroy(url);
        url = NULL;
    }
    return url;
}

/* `text` fails with INVALID_ARG and a message naming it. */
static bool parse_fails(const char *text)
{
    ImdError *error = NULL;
    ImdUrl *url = imd_url_parse(&error, text);
    bool ok = url == NULL && imd_error_code(error) == IMD_ERR_INVALID_ARG &&
              (text == NULL || text[0] == '\0' ||
               strstr(imd_error_message(error), text) != NULL);
    if (!ok) {
        fprintf(stderr, "parse \"%s\": expected INVALID_ARG naming it, got %s \"%s\"\n",
                text ? text : "(null)", imd_error_code_name(imd_error_code(error)),
                imd_error_message(error));
    }
    imd_url_destroy(url);
    imd_error_clear(&error);
    return ok;
}

/* Every string field is non-NULL, whatever was parsed. */
static void check_no_null(const ImdUrl *url)
{
    CHECK(url->scheme != NULL && url->host != NULL && url->path != NULL &&
          url->query != NULL && url->aet != NULL);
    for (size_t i = 0; i < 3; i++) {
        CHECK(url->parts[i] != NULL);
    }
}

IMD_TEST(plain_paths)
{
    ImdUrl *url = parse_ok("/data/dicom/time");
    REQUIRE(url != NULL);
    check_no_null(url);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->host, "");
    CHECK_INT(url->port, 0);
    CHECK_STR(url->path, "/data/dicom/time");
    CHECK_STR(url->query, "");
    CHECK_STR(url->aet, "");
    CHECK_INT(url->part_count, 0);
    imd_url_destroy(url);

    url = parse_ok("data/dicom/time");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "data/dicom/time");
    imd_url_destroy(url);

    /* A one-letter "scheme" is a drive name. */
    url = parse_ok("C:\\data\\x.dcm");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "C:\\data\\x.dcm");
    imd_url_destroy(url);

    /* Plain paths are not percent-decoded: output patterns survive. */
    url = parse_ok("out/w%03d.dcm");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "out/w%03d.dcm");
    imd_url_destroy(url);
    url = parse_ok("out_%p");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "out_%p");
    imd_url_destroy(url);

    /* ... and have no authority: "//x" is a path. */
    url = parse_ok("//server/share");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "//server/share");
    CHECK_STR(url->host, "");
    imd_url_destroy(url);

    /* The fragment is dropped, as urlsplit does. */
    url = parse_ok("dir/a.dcm#frag");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "dir/a.dcm");
    CHECK_STR(url->query, "");
    imd_url_destroy(url);

    /* ':' after the first path character is not a scheme. */
    url = parse_ok("./a:b");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "./a:b");
    imd_url_destroy(url);

    CHECK(parse_fails(""));
    CHECK(parse_fails(NULL));
    CHECK(parse_fails("?pattern"));
    imd_url_destroy(NULL);
}

IMD_TEST(file_urls)
{
    ImdUrl *url = parse_ok("file:///a/b");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "/a/b");
    CHECK_STR(url->host, "");
    imd_url_destroy(url);

    url = parse_ok("file:relative/dir");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "relative/dir");
    imd_url_destroy(url);

    url = parse_ok("file:/abs");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "/abs");
    imd_url_destroy(url);

    url = parse_ok("FILE://localhost/x/y");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "/x/y");
    imd_url_destroy(url);

    /* Percent-decoding of file: URLs, path and query. */
    url = parse_ok("file:///data/my%20scan/a%2fb%25?x%20y");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "/data/my scan/a/b%");
    CHECK_STR(url->query, "x y");
    imd_url_destroy(url);

    CHECK(parse_fails("file:///a%2"));
    CHECK(parse_fails("file:///a%zz"));
    CHECK(parse_fails("file:///a%"));
    CHECK(parse_fails("file:///a%00b"));
    CHECK(parse_fails("file://server/share/x"));
    CHECK(parse_fails("file:"));
    CHECK(parse_fails("file://"));
    CHECK(parse_fails("file://localhost"));
}

IMD_TEST(zip_queries)
{
    ImdUrl *url = parse_ok("time.zip?time/time00/Image_0002[01].dcm");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "file");
    CHECK_STR(url->path, "time.zip");
    CHECK_STR(url->query, "time/time00/Image_0002[01].dcm");
    imd_url_destroy(url);

    url = parse_ok("../shared/data/imagedata/dicom/time.zip?*0[01]/Image_0002[01].dcm");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "../shared/data/imagedata/dicom/time.zip");
    CHECK_STR(url->query, "*0[01]/Image_0002[01].dcm");
    imd_url_destroy(url);

    /* Only the first '?' splits; the fragment goes before the query is taken. */
    url = parse_ok("file:///d/cohort.zip?cohort/P2/S1?x#frag?y");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "/d/cohort.zip");
    CHECK_STR(url->query, "cohort/P2/S1?x");
    imd_url_destroy(url);

    url = parse_ok("a.zip?");
    REQUIRE(url != NULL);
    CHECK_STR(url->path, "a.zip");
    CHECK_STR(url->query, "");
    imd_url_destroy(url);
}

IMD_TEST(dicom_urls)
{
    ImdUrl *url = parse_ok("dicom://pacs.example.org:11112/PACS");
    REQUIRE(url != NULL);
    check_no_null(url);
    CHECK_STR(url->scheme, "dicom");
    CHECK_STR(url->host, "pacs.example.org");
    CHECK_INT(url->port, 11112);
    CHECK_STR(url->aet, "PACS");
    CHECK_STR(url->path, "/PACS");
    CHECK_INT(url->part_count, 0);
    imd_url_destroy(url);

    url = parse_ok("DICOM://host:104/AET/pat01/1.2.3.4/5.6.7");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "dicom");
    CHECK_STR(url->host, "host");
    CHECK_INT(url->port, 104);
    CHECK_STR(url->aet, "AET");
    CHECK_INT(url->part_count, 3);
    CHECK_STR(url->parts[0], "pat01");
    CHECK_STR(url->parts[1], "1.2.3.4");
    CHECK_STR(url->parts[2], "5.6.7");
    CHECK_STR(url->path, "/AET/pat01/1.2.3.4/5.6.7");
    imd_url_destroy(url);

    /* Fewer parts, a trailing '/', no port (0 = not given). */
    url = parse_ok("dicom://host/AET/pat01/");
    REQUIRE(url != NULL);
    CHECK_INT(url->port, 0);
    CHECK_STR(url->aet, "AET");
    CHECK_INT(url->part_count, 1);
    CHECK_STR(url->parts[0], "pat01");
    CHECK_STR(url->parts[1], "");
    imd_url_destroy(url);

    url = parse_ok("dicom://[::1]:11112/STORESCP");
    REQUIRE(url != NULL);
    CHECK_STR(url->host, "::1");
    CHECK_INT(url->port, 11112);
    CHECK_STR(url->aet, "STORESCP");
    imd_url_destroy(url);

    url = parse_ok("dicom://[fe80::1]/A");
    REQUIRE(url != NULL);
    CHECK_STR(url->host, "fe80::1");
    CHECK_INT(url->port, 0);
    imd_url_destroy(url);

    /* 16 characters is the AE title limit; spaces inside are allowed. */
    url = parse_ok("dicom://h:1/ABCDEFGHIJKLMNOP");
    REQUIRE(url != NULL);
    CHECK_STR(url->aet, "ABCDEFGHIJKLMNOP");
    CHECK_INT(url->port, 1);
    imd_url_destroy(url);
    url = parse_ok("dicom://h:65535/MY AET");
    REQUIRE(url != NULL);
    CHECK_STR(url->aet, "MY AET");
    CHECK_INT(url->port, 65535);
    imd_url_destroy(url);

    CHECK(parse_fails("dicom://host:104"));
    CHECK(parse_fails("dicom://host:104/"));
    CHECK(parse_fails("dicom://host:104//pat"));
    CHECK(parse_fails("dicom://:104/AET"));
    CHECK(parse_fails("dicom:///AET"));
    CHECK(parse_fails("dicom:AET"));
    CHECK(parse_fails("dicom://host:0/AET"));
    CHECK(parse_fails("dicom://host:65536/AET"));
    CHECK(parse_fails("dicom://host:99999999999999999999/AET"));
    CHECK(parse_fails("dicom://host:1x/AET"));
    CHECK(parse_fails("dicom://host:-1/AET"));
    CHECK(parse_fails("dicom://host:104/ABCDEFGHIJKLMNOPQ"));
    CHECK(parse_fails("dicom://host:104/A\\B"));
    CHECK(parse_fails("dicom://host:104/   "));
    CHECK(parse_fails("dicom://host:104/A\tB"));
    CHECK(parse_fails("dicom://host:104/AET/a/b/c/d"));
    CHECK(parse_fails("dicom://host:104/AET/a//c"));
    CHECK(parse_fails("dicom://[::1/AET"));
    CHECK(parse_fails("dicom://[]:104/AET"));
    CHECK(parse_fails("dicom://[::1]x/AET"));
    CHECK(parse_fails("dicom://[::g]/AET"));
    CHECK(parse_fails("dicom://ho st/AET"));
}

IMD_TEST(other_schemes)
{
    ImdUrl *url = parse_ok("xnat://user:pw@xnat.example.org:8443/proj/subj/exp/scan");
    REQUIRE(url != NULL);
    check_no_null(url);
    CHECK_STR(url->scheme, "xnat");
    CHECK_STR(url->host, "xnat.example.org");
    CHECK_INT(url->port, 8443);
    CHECK_STR(url->path, "/proj/subj/exp/scan");
    CHECK_STR(url->aet, "");
    CHECK_INT(url->part_count, 0);
    imd_url_destroy(url);

    url = parse_ok("xnat://host");
    REQUIRE(url != NULL);
    CHECK_STR(url->host, "host");
    CHECK_STR(url->path, "");
    imd_url_destroy(url);

    /* Network paths are not percent-decoded: the transport decides. */
    url = parse_ok("my+scheme.x-y://h/a%20b?q=1");
    REQUIRE(url != NULL);
    CHECK_STR(url->scheme, "my+scheme.x-y");
    CHECK_STR(url->path, "/a%20b");
    CHECK_STR(url->query, "q=1");
    imd_url_destroy(url);

    CHECK(parse_fails("xnat://host:port/x"));
}

IMD_TEST(expand_format)
{
    ImdError *error = NULL;
    char *text = imd_url_expand_format(&error, "out_%p", "nifti");
    CHECK_STR(text, "out_nifti");
    imd_free(text);
    text = imd_url_expand_format(&error, "%p/%p.x", "dicom");
    CHECK_STR(text, "dicom/dicom.x");
    imd_free(text);
    text = imd_url_expand_format(&error, "w%03d_%%p_%%%p", "itk");
    CHECK_STR(text, "w%03d_%p_%itk");
    imd_free(text);
    text = imd_url_expand_format(&error, "end%", "x");
    CHECK_STR(text, "end%");
    imd_free(text);
    text = imd_url_expand_format(&error, "", "x");
    CHECK_STR(text, "");
    imd_free(text);
    text = imd_url_expand_format(&error, "plain", "x");
    CHECK_STR(text, "plain");
    imd_free(text);
    CHECK(error == NULL);
    CHECK_FAILS(error, imd_url_expand_format(&error, NULL, "x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_url_expand_format(&error, "a%p", NULL), IMD_ERR_INVALID_ARG);
}

IMD_TEST(member_match_examples)
{
    /* behaviour.md §7.1 */
    const char *p = "time/time00/Image_0002[01].dcm";
    CHECK(imd_member_match(p, "time/time00/Image_00020.dcm"));
    CHECK(imd_member_match(p, "time/time00/Image_00021.dcm"));
    CHECK(!imd_member_match(p, "time/time00/Image_00019.dcm"));
    CHECK(!imd_member_match(p, "time/time01/Image_00020.dcm"));

    p = "*0[01]/Image_0002[01].dcm";
    CHECK(imd_member_match(p, "time/time00/Image_00020.dcm"));
    CHECK(imd_member_match(p, "time/time01/Image_00021.dcm"));
    CHECK(!imd_member_match(p, "time/time02/Image_00020.dcm"));
    CHECK(!imd_member_match(p, "time/time00/Image_00022.dcm"));

    /* A folder selects everything below it, with or without a trailing '/'. */
    CHECK(imd_member_match("cohort/P2/S1", "cohort/P2/S1/Image_00000.dcm"));
    CHECK(imd_member_match("cohort/P2/S1", "cohort/P2/S1/sub/deeper.dcm"));
    CHECK(imd_member_match("cohort/P2/S1/", "cohort/P2/S1/Image_00000.dcm"));
    CHECK(imd_member_match("cohort/P2/S1", "cohort/P2/S1"));
    CHECK(!imd_member_match("cohort/P2/S1", "cohort/P2/S10/Image_00000.dcm"));
    CHECK(!imd_member_match("cohort/P2/S1", "cohort/P2/S2/Image_00000.dcm"));
    CHECK(!imd_member_match("cohort/P2/S1", "cohort/P2"));
    CHECK(imd_member_match("cohort/P*", "cohort/P1/S1/x.dcm"));
    /* Only one trailing '/' is removed. */
    CHECK(!imd_member_match("cohort//", "cohort/x"));
    CHECK(imd_member_match("cohort//", "cohort//x"));
}

IMD_TEST(member_match_syntax)
{
    /* Empty and NULL patterns match everything; "/" is the root folder. */
    CHECK(imd_member_match(NULL, "a/b"));
    CHECK(imd_member_match("", "a/b"));
    CHECK(imd_member_match("/", "a/b"));
    CHECK(!imd_member_match("a", NULL));

    CHECK(imd_member_match("*", "a/b/c"));
    CHECK(imd_member_match("*.dcm", "a/b/c.dcm"));
    CHECK(!imd_member_match("*.dcm", "a/b/c.dcmx"));
    CHECK(imd_member_match("a*b*c", "axxbyyc"));
    CHECK(!imd_member_match("a*b*c", "axxbyy"));
    CHECK(imd_member_match("**", ""));
    CHECK(imd_member_match("a?c", "abc"));
    CHECK(imd_member_match("a?c", "a/c")); /* '?' also takes '/' */
    CHECK(!imd_member_match("a?c", "ac"));
    CHECK(imd_member_match("x?", "x\xc3\xa9")); /* '?' is one UTF-8 character */
    CHECK(!imd_member_match("x??", "x\xc3\xa9"));

    CHECK(imd_member_match("[a-c]x", "bx"));
    CHECK(!imd_member_match("[a-c]x", "dx"));
    CHECK(imd_member_match("[!a-c]x", "dx"));
    CHECK(!imd_member_match("[!a-c]x", "ax"));
    CHECK(imd_member_match("[^a-c]x", "dx"));
    CHECK(imd_member_match("[]]", "]"));
    CHECK(imd_member_match("[!]]", "a"));
    CHECK(!imd_member_match("[!]]", "]"));
    CHECK(imd_member_match("[a-]", "-"));
    CHECK(imd_member_match("[-a]", "-"));
    CHECK(!imd_member_match("[z-a]", "m")); /* a reversed range is empty */
    CHECK(imd_member_match("[\xc3\xa0-\xc3\xbf]", "\xc3\xa9"));
    /* An unclosed '[' is literal. */
    CHECK(imd_member_match("a[b", "a[b"));
    CHECK(!imd_member_match("a[b", "ab"));
    CHECK(imd_member_match("[", "["));
    /* A backslash is literal (no escapes in fnmatch). */
    CHECK(imd_member_match("a\\*", "a\\xyz"));
    /* Case matters, as on POSIX. */
    CHECK(!imd_member_match("A.dcm", "a.dcm"));
    /* Invalid UTF-8 bytes match themselves only. */
    CHECK(imd_member_match("\xff?", "\xff\xfe"));
    CHECK(!imd_member_match("\xfe", "\xff"));
}

IMD_TEST(member_match_is_not_exponential)
{
    /* A hostile pattern that takes exponential time with naive recursion. */
    char pattern[4096], name[4096];
    size_t p = 0;
    for (int i = 0; i < 1000; i++) {
        pattern[p++] = '*';
        pattern[p++] = 'a';
    }
    pattern[p++] = 'b';
    pattern[p] = '\0';
    memset(name, 'a', 4000);
    name[4000] = '\0';
    CHECK(!imd_member_match(pattern, name));
    /* Many unclosed '[' are cheap too. */
    memset(pattern, '[', 4000);
    pattern[4000] = '\0';
    CHECK(!imd_member_match(pattern, name));
    CHECK(imd_member_match(pattern, pattern));
}

IMD_TEST(safe_names)
{
    CHECK(imd_member_name_is_safe("a"));
    CHECK(imd_member_name_is_safe("dir/Image_00000.dcm"));
    CHECK(imd_member_name_is_safe("a.b/..c/c..d/.hidden"));
    CHECK(imd_member_name_is_safe("w%03d.dcm"));
    CHECK(imd_member_name_is_safe("sp ace/\xc3\xa9"));

    CHECK(!imd_member_name_is_safe(NULL));
    CHECK(!imd_member_name_is_safe(""));
    CHECK(!imd_member_name_is_safe("/etc/passwd"));
    CHECK(!imd_member_name_is_safe(".."));
    CHECK(!imd_member_name_is_safe("../x"));
    CHECK(!imd_member_name_is_safe("a/../../x"));
    CHECK(!imd_member_name_is_safe("a/.."));
    CHECK(!imd_member_name_is_safe("."));
    CHECK(!imd_member_name_is_safe("./a"));
    CHECK(!imd_member_name_is_safe("a/./b"));
    CHECK(!imd_member_name_is_safe("a//b"));
    CHECK(!imd_member_name_is_safe("a/"));
    CHECK(!imd_member_name_is_safe("a\\b"));
    CHECK(!imd_member_name_is_safe("..\\x"));
    CHECK(!imd_member_name_is_safe("a\nb"));
    CHECK(!imd_member_name_is_safe("a\x01"));
    CHECK(!imd_member_name_is_safe("a\x7f"));

    static char name[4098];
    memset(name, 'a', 4096);
    name[4096] = '\0';
    CHECK(imd_member_name_is_safe(name));
    name[4096] = 'a';
    name[4097] = '\0';
    CHECK(!imd_member_name_is_safe(name));
}

/* Output names numbered as Python's str.format and C's printf number them (§7.3). */
IMD_TEST(numbered_names)
{
    static const struct {
        const char *pattern;
        size_t index;
        const char *want; /* NULL: INVALID_ARG */
    } cases[] = {
        {"w%03d.dcm", 5, "w005.dcm"},        {"Image_{:05d}.dcm", 7, "Image_00007.dcm"},
        {"{}", 3, "3"},                      {"x%d", 12345, "x12345"},
        {"a%%b%d", 1, "a%b1"},               {"time{:02d}/im", 4, "time04/im"},
        {"%d%d", 1, NULL},                   {"x{", 1, NULL},
        {"%s.dcm", 1, NULL},                 {"plain", 1, NULL},
        {"{:099d}", 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdError *error = NULL;
        char *got = imd__format_numbered_name(&error, cases[i].pattern, cases[i].index);
        if (cases[i].want != NULL) {
            CHECK_STR(got, cases[i].want);
        } else {
            CHECK(got == NULL && imd_error_code(error) == IMD_ERR_INVALID_ARG);
        }
        free(got);
        imd_error_clear(&error);
    }
    CHECK(imd__name_has_number("a%d") && imd__name_has_number("{}") &&
          !imd__name_has_number("Image.dcm"));
}

IMD_TEST_MAIN(IMD_CASE(numbered_names), IMD_CASE(plain_paths), IMD_CASE(file_urls), IMD_CASE(zip_queries),
              IMD_CASE(dicom_urls), IMD_CASE(other_schemes), IMD_CASE(expand_format),
              IMD_CASE(member_match_examples), IMD_CASE(member_match_syntax),
              IMD_CASE(member_match_is_not_exponential), IMD_CASE(safe_names))
