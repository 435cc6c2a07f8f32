/*
 * test_dicom_charset.c: imd__dicom_decode_text against the examples of PS3.5
 * Annexes H (Japanese), I (Korean), J and K (Chinese), the single-byte sets,
 * the reset rules of PS3.5 §6.1.2.5.3, malformed input, and pydicom (the
 * oracle): every PN/LO/SH/ST/LT/UT/UC element of pydicom's charset test
 * files, plus values built here, must decode exactly as pydicom does.
 *
 * Where pydicom 2.3 departs from the standard the cases assert the
 * standard's answer, and say what pydicom gives:
 *  - it splits PN on '=' and values on '\' in the raw bytes, so a JIS X 0208
 *    or GBK character holding such a byte is broken ("処" is ESC $ B "=h");
 *  - ISO 2022 IR 58 keeps the escape sequences in its text (it hands them to
 *    Python's gb2312 codec, which does not know them);
 *  - it does not know ISO_IR 203 (Latin-9) and reads it as Latin-1;
 *  - JIS X 0201 romaji 0x5C / 0x7E read as '\' and '~' (ISO-IR 14: YEN SIGN,
 *    OVERLINE; 0x5C between values stays the delimiter);
 *  - an unknown escape sequence stays in the text; here it is U+FFFD.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include "dicom/dicom_internal.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

/* Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF. */
static bool valid_utf8(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p != 0) {
        size_t need = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
                                  : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
        if (need == 0) {
            return false;
        }
        unsigned low = *p == 0xe0 ? 0xa0 : *p == 0xf0 ? 0x90 : 0x80;
        unsigned high = *p == 0xed ? 0x9f : *p == 0xf4 ? 0x8f : 0xbf;
        for (size_t i = 1; i < need; i++) {
            unsigned lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xbf;
            if (p[i] < lo || p[i] > hi) {
                return false;
            }
        }
        p += need;
    }
    return true;
}

static char *decode(const void *bytes, size_t size, const char *charsets, ImdVR vr, bool *replaced)
{
    ImdError *error = NULL;
    char *text = imd__dicom_decode_text(&error, bytes, size, charsets, vr, replaced);
    imd_error_clear(&error);
    return text;
}

/* Decode the literal `input` and compare with `expected` and the replaced flag. */
#define CHECK_DECODE(input, charsets, vr, expected, expect_replaced)                       \
    do {                                                                                   \
        bool replaced_ = false;                                                            \
        char *text_ = decode(input, sizeof(input) - 1, charsets, vr, &replaced_);          \
        CHECK_STR(text_, expected);                                                        \
        CHECK_INT(replaced_, expect_replaced);                                             \
        CHECK(text_ == NULL || valid_utf8(text_));                                         \
        free(text_);                                                                       \
    } while (0)

#define ESC "\x1b"
#define JIS ESC "$B"  /* JIS X 0208 into G0 */
#define ASCII ESC "(B" /* ASCII into G0 */
#define KSC ESC "$)C" /* KS X 1001 into G1 */
#define GB ESC "$)A"  /* GB 2312 into G1 */

IMD_TEST(default_repertoire)
{
    CHECK_DECODE("Doe^John", NULL, IMD_VR_PN, "Doe^John", false);
    CHECK_DECODE("Doe^John", "", IMD_VR_PN, "Doe^John", false);
    CHECK_DECODE("Doe^John", "ISO_IR 6", IMD_VR_PN, "Doe^John", false);
    CHECK_DECODE("Doe^John", "ISO 2022 IR 6", IMD_VR_PN, "Doe^John", false);
    CHECK_DECODE("", "ISO_IR 100", IMD_VR_LO, "", false);
    /* Not ASCII: read as ISO 8859-1 (pydicom's default), flagged. */
    CHECK_DECODE("Buc^J\xe9r\xf4me", "", IMD_VR_PN, "Buc^Jérôme", true);
    CHECK_DECODE("Buc^J\xe9r\xf4me", " \\ISO 2022 IR 87", IMD_VR_PN, "Buc^Jérôme", true);
    bool replaced = false;
    char *text = decode(NULL, 0, NULL, IMD_VR_LO, &replaced);
    CHECK_STR(text, "");
    free(text);
    text = decode("abc", 3, "ISO_IR 100", IMD_VR_LO, NULL);
    CHECK_STR(text, "abc");
    free(text);
}

/* The VRs of the default repertoire ignore (0008,0005) (PS3.5 §6.1.2.3). */
IMD_TEST(default_repertoire_vrs)
{
    CHECK_DECODE("ORIGINAL\\PRIMARY", "ISO_IR 192", IMD_VR_CS, "ORIGINAL\\PRIMARY", false);
    CHECK_DECODE("\xc3\xa9", "ISO_IR 192", IMD_VR_CS, "Ã©", true);
    CHECK_DECODE("\xe1", "ISO_IR 126", IMD_VR_AE, "á", true);
    CHECK_DECODE("A" ESC "-FB", "\\ISO 2022 IR 126", IMD_VR_SH, "AB", false);
    CHECK_DECODE("A" ESC "-FB", "\\ISO 2022 IR 126", IMD_VR_CS, "A\x1b-FB", false);
    CHECK_DECODE("1.2.840", "GB18030", IMD_VR_UI, "1.2.840", false);
}

/* PS3.5 Annex: the single-byte examples of pydicom's and dcmtk's data (chrFren ...). */
IMD_TEST(single_byte_sets)
{
    CHECK_DECODE("Buc^J\xe9r\xf4me", "ISO_IR 100", IMD_VR_PN, "Buc^Jérôme", false);
    CHECK_DECODE("\xc4neas^R\xfc" "diger", "ISO_IR 100", IMD_VR_PN, "Äneas^Rüdiger", false);
    CHECK_DECODE("Dvo\xf8\xe1k^Anton\xedn", "ISO_IR 101", IMD_VR_PN, "Dvořák^Antonín", false);
    CHECK_DECODE("\xd5u\xbf" "eppi", "ISO_IR 109", IMD_VR_PN, "Ġużeppi", false);
    CHECK_DECODE("\xab" "irts^\xde" "dris", "ISO_IR 110", IMD_VR_PN, "Ģirts^Ūdris", false);
    CHECK_DECODE("\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2", "ISO_IR 126", IMD_VR_PN, "Διονυσιος",
                 false);
    CHECK_DECODE("\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1", "ISO_IR 127", IMD_VR_PN,
                 "قباني^لنزار", false);
    CHECK_DECODE("\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", "ISO_IR 138", IMD_VR_PN, "שרון^דבורה",
                 false);
    CHECK_DECODE("\xbb\xee\xda" "ce\xdc\xd1yp\xd3", "ISO_IR 144", IMD_VR_PN, "Люкceмбypг", false);
    CHECK_DECODE("\xc7" "a\xf0lar^\xde\xfckr\xfc", "ISO_IR 148", IMD_VR_PN, "Çağlar^Şükrü", false);
    CHECK_DECODE("\xca\xc7\xd1\xca\xb4\xd5", "ISO_IR 166", IMD_VR_LO, "สวัสดี", false);
    /* Latin-9 (ISO_IR 203, CP 1835): pydicom 2.3 does not know it ("¼uvre 5¤"). */
    CHECK_DECODE("\xbcuvre 5\xa4", "ISO_IR 203", IMD_VR_LO, "Œuvre 5€", false);
    CHECK_DECODE(ESC "-b\xbcuvre", "\\ISO 2022 IR 203", IMD_VR_LO, "Œuvre", false);
    /* C1 controls come through; unassigned positions do not. */
    CHECK_DECODE("\x85", "ISO_IR 100", IMD_VR_LT, "\xc2\x85", false);
    CHECK_DECODE("\x80\xa0\xca", "ISO_IR 166", IMD_VR_LO, "\xc2\x80\xef\xbf\xbdส", true);
    CHECK_DECODE("a\xa5" "b", "ISO_IR 109", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    /* The ISO 2022 spellings of the same sets. */
    CHECK_DECODE("Buc^J\xe9r\xf4me", "ISO 2022 IR 100", IMD_VR_PN, "Buc^Jérôme", false);
    CHECK_DECODE("\xe1", "ISO 2022 IR 126", IMD_VR_PN, "α", false);
}

/* Misspellings pydicom corrects ("ISO IR 100", "ISO-IR 100"); unknown terms are the default. */
IMD_TEST(term_spellings)
{
    CHECK_DECODE("\xe9", "ISO IR 100", IMD_VR_LO, "é", false);
    CHECK_DECODE("\xe9", "ISO-IR 100", IMD_VR_LO, "é", false);
    CHECK_DECODE("\xe1", "ISO_IR 126 ", IMD_VR_LO, "α", false);
    CHECK_DECODE("\xe1", " ISO_IR 126\\", IMD_VR_LO, "α", false);
    CHECK_DECODE("\xe1", "ISO 2022-IR 126", IMD_VR_LO, "α", false);
    CHECK_DECODE("abc", "ISO_IR 999", IMD_VR_LO, "abc", false);
    CHECK_DECODE("\xe1", "ISO_IR 999", IMD_VR_LO, "á", true);
    CHECK_DECODE("\xe1", "KLINGON", IMD_VR_LO, "á", true);
    CHECK_DECODE("\xe1", "ISO_IR 1000000000000", IMD_VR_LO, "á", true);
}

IMD_TEST(utf8)
{
    /* PS3.5 J.1 (chrX1) */
    CHECK_DECODE("Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=", "ISO_IR 192", IMD_VR_PN,
                 "Wang^XiaoDong=王^小東=", false);
    CHECK_DECODE("\xf0\x9f\x98\x80", "ISO_IR 192", IMD_VR_LO, "😀", false);
    /* One U+FFFD per maximal invalid subpart, as Python. */
    CHECK_DECODE("a\xe2\x82" "b\xc0\x80\xed\xa0\x80z", "ISO_IR 192", IMD_VR_LO,
                 "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
                 true);
    CHECK_DECODE("\xf4\x90\x80\x80", "ISO_IR 192", IMD_VR_LO,
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", true);
    CHECK_DECODE("\xe6\x9d", "ISO_IR 192", IMD_VR_LO, "\xef\xbf\xbd", true);
    /* Stand-alone: no code extensions, and values after it are ignored. */
    CHECK_DECODE(ESC "$B;3", "ISO_IR 192\\ISO 2022 IR 87", IMD_VR_LO, "\x1b$B;3", false);
}

IMD_TEST(gb18030_gbk)
{
    /* PS3.5 J.2 (chrX2), and a four-byte sequence and a euro sign */
    CHECK_DECODE("Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", "GB18030", IMD_VR_PN,
                 "Wang^XiaoDong=王^小东=", false);
    CHECK_DECODE("\x94" "9\xfc" "6\xa2\xe3", "GB18030", IMD_VR_LO, "😀€", false);
    /* PS3.5 J.3: multi-line LT */
    CHECK_DECODE("The first line includes\xd6\xd0\xce\xc4.\r\nThe second line.", "GB18030",
                 IMD_VR_LT, "The first line includes中文.\r\nThe second line.", false);
    /* 0x5C as a second byte is no delimiter (pydicom splits there: "\uFFFD\\\\表"). */
    CHECK_DECODE("\x81\x5c\x5c\xb1\xed", "GBK", IMD_VR_LO, "乗\\表", false);
    CHECK_DECODE("\x81\x5c\x5c\xb1\xed", "GB18030", IMD_VR_LO, "乗\\表", false);
    CHECK_DECODE("\xb1\xed", "ISO 2022 GBK", IMD_VR_LO, "表", false);
    CHECK_DECODE("a\xff" "b\x81", "GB18030", IMD_VR_LO, "a\xef\xbf\xbd" "b\xef\xbf\xbd", true);
    CHECK_DECODE("\x81" "0\x81", "GB18030", IMD_VR_LO, "\xef\xbf\xbd" "0\xef\xbf\xbd", true);
}

/* PS3.5 H.3.1: value 1 empty (ASCII), JIS X 0208 by escape (chrH31). */
IMD_TEST(japanese_h31)
{
    CHECK_DECODE("Yamada^Tarou=" JIS ";3ED" ASCII "^" JIS "B@O:" ASCII "=" JIS "$d$^$@" ASCII
                 "^" JIS "$?$m$&" ASCII,
                 "\\ISO 2022 IR 87", IMD_VR_PN, "Yamada^Tarou=山田^太郎=やまだ^たろう", false);
    CHECK_DECODE(JIS "$d$^$@" ASCII "^" JIS "$?$m$&" ASCII "\\" JIS "$d$^$@" ASCII " ",
                 "ISO 2022 IR 6\\ISO 2022 IR 87", IMD_VR_PN, "やまだ^たろう\\やまだ ", false);
    /* ESC $ @ (JIS C 6226-1978) and ESC $ ( B read as JIS X 0208. */
    CHECK_DECODE(ESC "$@;3ED" ESC "$(BB@O:", "\\ISO 2022 IR 87", IMD_VR_LO, "山田太郎", false);
}

/* PS3.5 H.3.2: value 1 ISO 2022 IR 13, katakana in G1, romaji in G0 (chrH32). */
IMD_TEST(japanese_h32)
{
    CHECK_DECODE("\xd4\xcf\xc0\xde^\xc0\xdb\xb3=" JIS ";3ED" ESC "(J^" JIS "B@O:" ESC "(J=" JIS
                 "$d$^$@" ESC "(J^" JIS "$?$m$&" ESC "(J",
                 "ISO 2022 IR 13\\ISO 2022 IR 87", IMD_VR_PN,
                 "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", false);
    /* Katakana by escape (ESC ) I) from an ASCII start, and in G0 (ESC ( I). */
    CHECK_DECODE(ESC ")I\xd4\xcf" ESC "(I" "TO" ASCII "x", "\\ISO 2022 IR 13", IMD_VR_LO,
                 "ﾔﾏﾔﾏx", false);
    /* JIS X 0201 romaji is ISO-IR 14: YEN SIGN and OVERLINE (pydicom: '\' and '~'), except
     * that 0x5C delimiting values stays the delimiter. */
    CHECK_DECODE("a\\b~c", "ISO_IR 13", IMD_VR_LT, "a¥b‾c", false);
    CHECK_DECODE("a\\b", "ISO_IR 13", IMD_VR_LO, "a\\b", false);
    /* Shift_JIS in ISO_IR 13 (a common error) reads as Shift_JIS, flagged, as pydicom. */
    CHECK_DECODE("\x8eR\x93" "c \xd4\xcf", "ISO_IR 13", IMD_VR_LO, "山田 ﾔﾏ", true);
    CHECK_DECODE("\xe0", "ISO_IR 13", IMD_VR_LO, "\xef\xbf\xbd", true);
}

IMD_TEST(japanese_jis_x_0212)
{
    CHECK_DECODE(ESC "$(D0!" ASCII "a", "\\ISO 2022 IR 159", IMD_VR_LO, "丂a", false);
    CHECK_DECODE(JIS ";3" ESC "$(D0!" ASCII, "\\ISO 2022 IR 87\\ISO 2022 IR 159", IMD_VR_PN,
                 "山丂", false);
}

/*
 * Inside a two-byte G0 set, bytes equal to '=', '^' or '\' are halves of a
 * character, not delimiters (ISO 2022). pydicom splits on the raw '=' and
 * gives "=h" for "処" (ESC $ B "=h").
 */
IMD_TEST(japanese_delimiter_bytes)
{
    CHECK_DECODE(JIS "=h" ASCII "^" JIS "0^" ASCII, "\\ISO 2022 IR 87", IMD_VR_PN, "処^緯",
                 false);
    CHECK_DECODE(JIS "0\\" ASCII "\\x", "\\ISO 2022 IR 87", IMD_VR_LO, "移\\x", false);
    /* A control character resets: the writer must have switched back before it. */
    CHECK_DECODE(JIS "$?$m$&\r\n$?", "\\ISO 2022 IR 87", IMD_VR_LT, "たろう\r\n$?", false);
    CHECK_DECODE(JIS "$?\t$?", "\\ISO 2022 IR 87", IMD_VR_LT, "た\t$?", false);
    /* A lone first byte, or one before a space or control. */
    CHECK_DECODE(JIS "$", "\\ISO 2022 IR 87", IMD_VR_LO, "\xef\xbf\xbd", true);
    CHECK_DECODE(JIS "$ $?", "\\ISO 2022 IR 87", IMD_VR_LO, "\xef\xbf\xbd た", true);
    CHECK_DECODE(JIS "\x7f", "\\ISO 2022 IR 87", IMD_VR_LO, "\x7f", false);
    CHECK_DECODE(JIS "\xa4\xa2", "\\ISO 2022 IR 87", IMD_VR_LO, "¤¢", true);
}

/* PS3.5 I.2 (chrI2) and I.3 (multi-line LT, escapes repeated after each reset). */
IMD_TEST(korean)
{
    CHECK_DECODE("Hong^Gildong=" KSC "\xfb\xf3^" KSC "\xd1\xce\xd4\xd7=" KSC "\xc8\xab^" KSC
                 "\xb1\xe6\xb5\xbf",
                 "\\ISO 2022 IR 149", IMD_VR_PN, "Hong^Gildong=洪^吉洞=홍^길동", false);
    CHECK_DECODE("The first line includes " KSC "\xc7\xd1\xb1\xdb.\r\nThe second line includes "
                 KSC "\xc7\xd1\xb1\xdb, too.\r\nThe third line.",
                 "\\ISO 2022 IR 149", IMD_VR_LT,
                 "The first line includes 한글.\r\nThe second line includes 한글, too.\r\n"
                 "The third line.",
                 false);
    /* After the reset G1 is undefined again: no Korean without a new escape. */
    CHECK_DECODE(KSC "\xc7\xd1\r\n\xc7\xd1", "\\ISO 2022 IR 149", IMD_VR_LT, "한\r\nÇÑ", true);
    CHECK_DECODE(KSC "\xc7\xd1^\xc7\xd1", "\\ISO 2022 IR 149", IMD_VR_PN, "한^ÇÑ", true);
    /* '^' is no delimiter outside PN. */
    CHECK_DECODE(KSC "\xc7\xd1^\xc7\xd1", "\\ISO 2022 IR 149", IMD_VR_LO, "한^한", false);
    /* As value 1, KS X 1001 is the initial G1 set (pydicom: EUC-KR). */
    CHECK_DECODE("\xc7\xd1", "ISO 2022 IR 149", IMD_VR_LO, "한", false);
    CHECK_DECODE(KSC "\xc7", "\\ISO 2022 IR 149", IMD_VR_LO, "\xef\xbf\xbd", true);
    CHECK_DECODE(KSC "\xc7" "a", "\\ISO 2022 IR 149", IMD_VR_LO, "\xef\xbf\xbd" "a", true);
}

/*
 * PS3.5 K.2: GB 2312 by escape. pydicom keeps the escape sequences in the
 * text ("Zhang^XiaoDong=\x1b$)A张^\x1b$)A小东").
 */
IMD_TEST(chinese_iso2022_ir58)
{
    CHECK_DECODE("Zhang^XiaoDong=" GB "\xd5\xc5^" GB "\xd0\xa1\xb6\xab= ", "\\ISO 2022 IR 58",
                 IMD_VR_PN, "Zhang^XiaoDong=张^小东= ", false);
    CHECK_DECODE("1." GB "\xd6\xd0\xce\xc4.\r\n2." GB "\xd6\xd0\xce\xc4", "\\ISO 2022 IR 58",
                 IMD_VR_LT, "1.中文.\r\n2.中文", false);
    CHECK_DECODE(ESC "$A" "VP" ASCII "x", "\\ISO 2022 IR 58", IMD_VR_LO, "中x", false);
    CHECK_DECODE("\xd6\xd0", "ISO 2022 58", IMD_VR_LO, "中", false);
}

/* PS3.5 §6.1.2.5.3: where the initial code elements come back. */
IMD_TEST(resets)
{
    /* '\' between values of a multi-valued VR; not in LT, ST, UT. */
    CHECK_DECODE(ESC "-F\xe1\\\xe1", "\\ISO 2022 IR 126", IMD_VR_LO, "α\\á", true);
    CHECK_DECODE(ESC "-F\xe1\\\xe1", "\\ISO 2022 IR 126", IMD_VR_LT, "α\\α", false);
    CHECK_DECODE(ESC "-F\xe1\\\xe1", "\\ISO 2022 IR 126", IMD_VR_ST, "α\\α", false);
    CHECK_DECODE(ESC "-F\xe1\\\xe1", "\\ISO 2022 IR 126", IMD_VR_UT, "α\\α", false);
    CHECK_DECODE(ESC "-F\xe1\\\xe1", "\\ISO 2022 IR 126", IMD_VR_UC, "α\\á", true);
    /* Back to value 1's sets (here Latin-1 in G1), at '^' and '=' of PN. */
    CHECK_DECODE("\xe9^" ESC "-L\xbb=" ESC "-L\xbb\xe9", "ISO 2022 IR 100\\ISO 2022 IR 144",
                 IMD_VR_PN, "é^Л=Лщ", false);
    CHECK_DECODE(ESC "-L\xbb^\xbb=\xbb", "ISO 2022 IR 100\\ISO 2022 IR 144", IMD_VR_PN,
                 "Л^»=»", false);
    CHECK_DECODE(ESC "-L\xbb^\xbb=\xbb", "ISO 2022 IR 100\\ISO 2022 IR 144", IMD_VR_SH,
                 "Л^Л=Л", false);
    /* CR, LF, FF, TAB and other controls but ESC. */
    CHECK_DECODE(ESC "-L\xbb\r\xbb\n\xbb", "ISO 2022 IR 100\\ISO 2022 IR 144", IMD_VR_LT,
                 "Л\r»\n»", false);
    CHECK_DECODE(ESC "-L\xbb\f\xbb" ESC "-L\xbb\t\xbb", "ISO 2022 IR 100\\ISO 2022 IR 144",
                 IMD_VR_LT, "Л\f»Л\t»", false);
    CHECK_DECODE(ESC "-L\xbb\x01\xbb", "ISO 2022 IR 100\\ISO 2022 IR 144", IMD_VR_LT,
                 "Л\x01»", false);
    /* Romaji as value 1: back to romaji, katakana in G1. */
    CHECK_DECODE(JIS ";3" ESC "(B\\~\\" "\xb1", "ISO 2022 IR 13\\ISO 2022 IR 87", IMD_VR_LO,
                 "山\\‾\\ｱ", false);
}

IMD_TEST(escape_sequences)
{
    /* Unknown but well-formed: one U+FFFD, state kept (pydicom keeps the bytes). */
    CHECK_DECODE("a" ESC "$Zb", "\\ISO 2022 IR 87", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("a" ESC "-Zb", "\\ISO 2022 IR 100", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("a" ESC ")Bb", "\\ISO 2022 IR 100", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("a" ESC "$+Bb", "\\ISO 2022 IR 100", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    /* Not escape sequences: ESC alone. */
    CHECK_DECODE("a" ESC, "\\ISO 2022 IR 87", IMD_VR_LO, "a\xef\xbf\xbd", true);
    CHECK_DECODE("a" ESC "$", "\\ISO 2022 IR 87", IMD_VR_LO, "a\xef\xbf\xbd$", true);
    CHECK_DECODE("a" ESC "$((((B", "\\ISO 2022 IR 87", IMD_VR_LO, "a\xef\xbf\xbd$((((B", true);
    CHECK_DECODE(ESC "Nx", "\\ISO 2022 IR 87", IMD_VR_LO, "\xef\xbf\xbdNx", true);
    CHECK_DECODE(ESC "$\x01x", "\\ISO 2022 IR 87", IMD_VR_LO, "\xef\xbf\xbd$\x01x", true);
    /* A known sequence is applied even when its set is not in (0008,0005). */
    CHECK_DECODE(ESC "-F\xe1", "ISO_IR 100", IMD_VR_LO, "α", false);
    CHECK_DECODE(JIS ";3" ASCII, "", IMD_VR_LO, "山", false);
}

IMD_TEST(nul_bytes)
{
    CHECK_DECODE("abc\0\0", "", IMD_VR_LO, "abc", false);
    CHECK_DECODE("a\0b", "", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("a\0b", "ISO_IR 192", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("a\0b", "GB18030", IMD_VR_LO, "a\xef\xbf\xbd" "b", true);
    CHECK_DECODE("\0", "GB18030", IMD_VR_LO, "", false);
}

/* Any bytes: valid UTF-8 of at most 3 bytes per input byte, for every set and VR. */
IMD_TEST(arbitrary_bytes)
{
    static const char *const charsets[] = {
        "", "ISO_IR 100", "ISO_IR 13", "ISO_IR 166", "ISO_IR 192", "GB18030", "GBK",
        "\\ISO 2022 IR 87\\ISO 2022 IR 159", "ISO 2022 IR 13\\ISO 2022 IR 87",
        "\\ISO 2022 IR 149", "\\ISO 2022 IR 58", "ISO 2022 IR 100\\ISO 2022 IR 126",
    };
    static const ImdVR vrs[] = {IMD_VR_PN, IMD_VR_LO, IMD_VR_LT, IMD_VR_CS};
    static const uint8_t alphabet[] = {0x1b, '$', '(', ')', '-', 'B', 'D', 'C', 'A', 'I', 'J',
                                       'F', '\\', '^', '=', ' ', '\r', 0, 0x21, 0x7e, 0x80, 0xa1};
    uint32_t state = 12345;
    uint8_t bytes[48];
    for (int round = 0; round < 3000; round++) {
        size_t size = (size_t)(round % 48);
        for (size_t i = 0; i < size; i++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes[i] = state % 3 == 0 ? alphabet[(state >> 8) % sizeof alphabet]
                                      : (uint8_t)(state >> 16);
        }
        for (size_t c = 0; c < sizeof charsets / sizeof charsets[0]; c++) {
            for (size_t v = 0; v < sizeof vrs / sizeof vrs[0]; v++) {
                char *text = decode(bytes, size, charsets[c], vrs[v], NULL);
                REQUIRE(text != NULL);
                CHECK(valid_utf8(text));
                CHECK(strlen(text) <= 3 * size);
                free(text);
            }
        }
    }
}

/* ---- pydicom as the oracle ---- */

static const char oracle_script[] =
    "# One line per text element: VR, the (0008,0005) in force, the raw value,\n"
    "# pydicom's text (hex, '-' when empty), a name.\n"
    "import glob, os, sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "try:\n"
    "    import pydicom\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "from pydicom.dataelem import RawDataElement\n"
    "from pydicom.datadict import dictionary_VR\n"
    "from pydicom.dataset import Dataset\n"
    "from pydicom.tag import Tag\n"
    "VRS = ('PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC')\n"
    "def text(value):\n"
    "    if isinstance(value, (str, pydicom.valuerep.PersonName)):\n"
    "        return str(value)\n"
    "    return '\\\\'.join(str(v) for v in value)\n"
    "def line(out, vr, charset, raw, value, name):\n"
    "    h = lambda b: b.hex() or '-'\n"
    "    decoded = text(value).encode('utf-8')\n"
    "    out.write('%s %s %s %s %s\\n' % (vr, h(charset), h(raw), h(decoded), name))\n"
    "def walk(ds, charset, name, out):\n"
    "    own = ds.get_item(0x00080005)\n"
    "    if own is not None:\n"
    "        v = own.value\n"
    "        if not isinstance(v, bytes):\n"
    "            v = (v if isinstance(v, str) else '\\\\'.join(v)).encode()\n"
    "        charset = v\n"
    "    for tag in list(ds.keys()):\n"
    "        raw = ds.get_item(tag)\n"
    "        vr = raw.VR or dictionary_VR(tag)\n"
    "        if vr == 'SQ':\n"
    "            for item in ds[tag].value:\n"
    "                walk(item, charset, name, out)\n"
    "        elif vr in VRS and isinstance(raw, RawDataElement) and raw.value is not None:\n"
    "            label = '%s:%08x' % (name, int(tag))\n"
    "            line(out, vr, charset or b'', raw.value, ds[tag].value, label)\n"
    "# Values built from the standard's examples, where pydicom and the standard agree.\n"
    "SYNTHETIC = [\n"
    "    ('PN', 0x00100010, ['', 'ISO 2022 IR 149'], '486f6e675e47696c646f6e673d1b242943fbf35e'\n"
    "     '1b242943d1ced4d73d1b242943c8ab5e1b242943b1e6b5bf'),\n"
    "    ('LT', 0x00104000, ['', 'ISO 2022 IR 149'], '1b242943c7d1b1db2e0d0a1b242943c7d1b1db0d0ac7d1'),\n"
    "    ('LO', 0x00081030, ['', 'ISO 2022 IR 126'], '1b2d46e15ce1'),\n"
    "    ('LT', 0x00104000, ['', 'ISO 2022 IR 126'], '1b2d46e15ce1'),\n"
    "    ('PN', 0x00100010, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'e95e1b2d4cbb3d1b2d4cbbe9'),\n"
    "    ('LO', 0x00081030, ['', 'ISO 2022 IR 159'], '1b24284430211b2842'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 166'], '80a0cac7d1cab4d5'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 101'], '44766ff8e16b5e416e746f6eed6e'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 109'], 'd575bf65707069'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 110'], 'ab697274735ede64726973'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 148'], 'c761f06c61725ede fc6b72fc'.replace(' ', '')),\n"
    "    ('LO', 0x00081030, ['ISO_IR 13'], '8e52936320d4cf'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 192'], '61e28262c080eda0807a'),\n"
    "    ('LT', 0x00104000, ['GB18030'], '5468652066697273742063cdf50d0a943' + '9fc36a2e3'),\n"
    "    ('SH', 0x00080050, ['ISO IR 100'], 'e9'),\n"
    "    ('LO', 0x00081030, ['ISO_IR 6'], '4a e9 72 f4 6d 65'.replace(' ', '')),\n"
    "]\n"
    "out = open(sys.argv[1], 'w')\n"
    "folder = os.path.join(os.path.dirname(pydicom.__file__), 'data', 'charset_files')\n"
    "for path in sorted(glob.glob(os.path.join(folder, '*.dcm'))):\n"
    "    walk(pydicom.dcmread(path), None, os.path.basename(path), out)\n"
    "for index, (vr, tag, charset, raw) in enumerate(SYNTHETIC):\n"
    "    ds = Dataset()\n"
    "    ds.SpecificCharacterSet = charset\n"
    "    raw = bytes.fromhex(raw)\n"
    "    ds[tag] = RawDataElement(Tag(tag), vr, len(raw), raw, 0, True, True)\n"
    "    label = 'synthetic:%d' % index\n"
    "    line(out, vr, '\\\\'.join(charset).encode(), raw, ds[tag].value, label)\n";

static bool parse_hex(const char *hex, uint8_t **bytes, size_t *size)
{
    size_t length = strcmp(hex, "-") == 0 ? 0 : strlen(hex);
    *bytes = malloc(length / 2 + 1);
    *size = length / 2;
    if (*bytes == NULL || length % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < *size; i++) {
        unsigned value;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1) {
            return false;
        }
        (*bytes)[i] = (uint8_t)value;
    }
    (*bytes)[*size] = 0;
    return true;
}

static ImdVR vr_named(const char *name)
{
    static const struct {
        const char *name;
        ImdVR vr;
    } vrs[] = {{"PN", IMD_VR_PN}, {"LO", IMD_VR_LO}, {"SH", IMD_VR_SH}, {"ST", IMD_VR_ST},
               {"LT", IMD_VR_LT}, {"UT", IMD_VR_UT}, {"UC", IMD_VR_UC}};
    for (size_t i = 0; i < sizeof vrs / sizeof vrs[0]; i++) {
        if (strcmp(vrs[i].name, name) == 0) {
            return vrs[i].vr;
        }
    }
    return IMD_VR_UN;
}

/*
 * The text as pydicom presents it: trailing spaces removed per value (LT, ST,
 * UT: once), PN without trailing spaces nor empty trailing component groups.
 */
static char *pydicom_style(const char *text, ImdVR vr)
{
    size_t length = strlen(text), used = 0, start = 0;
    char *out = malloc(length + 1);
    if (out == NULL) {
        return NULL;
    }
    bool single = vr == IMD_VR_LT || vr == IMD_VR_ST || vr == IMD_VR_UT;
    while (vr == IMD_VR_PN && length > 0 && text[length - 1] == ' ') {
        length--;
    }
    for (;;) {
        size_t end = start;
        while (end < length && (single || text[end] != '\\')) {
            end++;
        }
        size_t last = end;
        while (last > start && text[last - 1] == (vr == IMD_VR_PN ? '=' : ' ')) {
            last--;
        }
        memcpy(out + used, text + start, last - start);
        used += last - start;
        if (end >= length) {
            break;
        }
        out[used++] = '\\';
        start = end + 1;
    }
    out[used] = '\0';
    return out;
}

/* Compare one line of the oracle's output; false when it does not match. */
static bool oracle_line(const char *line, int *synthetic)
{
    char vr_name[8], charset_hex[256], name[128];
    char *raw_hex = malloc(strlen(line) + 1), *text_hex = malloc(strlen(line) + 1);
    uint8_t *charsets = NULL, *raw = NULL, *expected = NULL;
    size_t charsets_size, raw_size, expected_size;
    bool ok = raw_hex != NULL && text_hex != NULL &&
              sscanf(line, "%7s %255s %s %s %127s", vr_name, charset_hex, raw_hex, text_hex,
                     name) == 5 &&
              parse_hex(charset_hex, &charsets, &charsets_size) &&
              parse_hex(raw_hex, &raw, &raw_size) &&
              parse_hex(text_hex, &expected, &expected_size);
    if (ok) {
        ImdVR vr = vr_named(vr_name);
        char *text = decode(raw, raw_size, (const char *)charsets, vr, NULL);
        char *shown = text != NULL ? pydicom_style(text, vr) : NULL;
        ok = shown != NULL && strcmp(shown, (const char *)expected) == 0;
        if (!ok) {
            IMD_FAIL_AT("%s (%s, \"%s\"): \"%s\", pydicom \"%s\"", name, vr_name,
                        (const char *)charsets, shown ? shown : "(null)",
                        (const char *)expected);
        }
        *synthetic += strncmp(name, "synthetic:", 10) == 0;
        free(shown);
        free(text);
    } else {
        IMD_FAIL_AT("bad oracle line: %s", line);
    }
    free(raw_hex);
    free(text_hex);
    free(charsets);
    free(raw);
    free(expected);
    return ok;
}

IMD_TEST(pydicom_oracle)
{
    const char *python = getenv("IMD_PYTHON");
    const char *tmp = getenv("IMD_TEST_TMP");
    if (python == NULL || python[0] == '\0') {
        IMD_SKIP("IMD_PYTHON is not set: pydicom, the oracle of this case, cannot run");
    }
    char script_path[1024], out_path[1024], command[4096];
    snprintf(script_path, sizeof script_path, "%s/charset_oracle_%d.py", tmp ? tmp : "/tmp",
             (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/charset_oracle_%d.txt", tmp ? tmp : "/tmp",
             (int)getpid());
    FILE *script = fopen(script_path, "w");
    REQUIRE(script != NULL);
    fputs(oracle_script, script);
    fclose(script);
    snprintf(command, sizeof command, "'%s' '%s' '%s'", python, script_path, out_path);
    int status = system(command);
    remove(script_path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        remove(out_path);
        IMD_SKIP("pydicom is not installed for %s", python);
    }
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *file = fopen(out_path, "r");
    REQUIRE(file != NULL);
    char *line = NULL;
    size_t capacity = 0;
    int total = 0, matched = 0, synthetic = 0;
    while (getline(&line, &capacity, file) > 0) {
        total++;
        matched += oracle_line(line, &synthetic);
    }
    free(line);
    fclose(file);
    remove(out_path);
    fprintf(stderr, "pydicom oracle: %d of %d elements match (%d built here)\n", matched, total,
            synthetic);
    CHECK(total - synthetic >= 150); /* the 17 charset files of pydicom 2.3 hold 166 */
    CHECK_INT(synthetic, 16);
}

IMD_TEST_MAIN(IMD_CASE(default_repertoire), IMD_CASE(default_repertoire_vrs),
              IMD_CASE(single_byte_sets), IMD_CASE(term_spellings), IMD_CASE(utf8),
              IMD_CASE(gb18030_gbk), IMD_CASE(japanese_h31), IMD_CASE(japanese_h32),
              IMD_CASE(japanese_jis_x_0212), IMD_CASE(japanese_delimiter_bytes), IMD_CASE(korean),
              IMD_CASE(chinese_iso2022_ir58), IMD_CASE(resets), IMD_CASE(escape_sequences),
              IMD_CASE(nul_bytes), IMD_CASE(arbitrary_bytes), IMD_CASE(pydicom_oracle))
