/*
 * test_net.c: the DICOM upper layer's PDUs and DIMSE command sets (src/net)
 * against the byte layouts of PS3.8 §9.3 and PS3.7 §E.1 written out by
 * hand, every truncation of a valid PDU, and malformed PDVs and commands.
 * The network itself is tested by integration.dicom_network (storescp and a
 * test peer) and integration.dicom_orthanc.
 */
#include "imd_test.h"

#include "net/net.h"

static ImdNetAssociate *request(void)
{
    ImdNetAssociate *rq = calloc(1, sizeof *rq);
    if (rq == NULL) {
        return NULL;
    }
    strcpy(rq->called_aet, "STORESCP");
    strcpy(rq->calling_aet, "IMAGEDATA");
    rq->max_length = 32768;
    rq->context_count = 2;
    rq->contexts[0].id = 1;
    strcpy(rq->contexts[0].abstract_syntax, "1.2.840.10008.5.1.4.1.1.4");
    strcpy(rq->contexts[0].transfer_syntaxes[0], IMD_UID_EXPLICIT_VR_LE);
    strcpy(rq->contexts[0].transfer_syntaxes[1], IMD_UID_IMPLICIT_VR_LE);
    rq->contexts[0].transfer_syntax_count = 2;
    rq->contexts[1].id = 3;
    strcpy(rq->contexts[1].abstract_syntax, IMD_NET_VERIFICATION_SOP_CLASS);
    strcpy(rq->contexts[1].transfer_syntaxes[0], IMD_UID_IMPLICIT_VR_LE);
    rq->contexts[1].transfer_syntax_count = 1;
    rq->role_count = 1;
    strcpy(rq->roles[0].sop_class, "1.2.840.10008.5.1.4.1.1.4");
    rq->roles[0].scp = true;
    rq->identity_type = 2;
    rq->identity_primary = (char *)(uintptr_t) "alice";
    rq->identity_primary_length = 5;
    rq->identity_secondary = (char *)(uintptr_t) "pw";
    rq->identity_secondary_length = 2;
    return rq;
}

IMD_TEST(associate_rq_layout_and_round_trip)
{
    ImdError *error = NULL;
    ImdNetAssociate *rq = request(), *back = calloc(1, sizeof *back);
    REQUIRE(rq != NULL && back != NULL);
    uint8_t *pdu = NULL;
    size_t size = 0;
    CHECK_OK(error, imd__pdu_encode_associate(&error, IMD_PDU_ASSOCIATE_RQ, rq, &pdu, &size));
    REQUIRE(pdu != NULL);
    /* PS3.8 Table 9-11: type 01, length, version 0001, AE titles space padded at 10 and 26. */
    CHECK_INT(pdu[0], 1);
    CHECK_INT(imd__load_be32(pdu + 2), size - 6);
    CHECK_INT(imd__load_be16(pdu + 6), 1);
    CHECK(memcmp(pdu + 10, "STORESCP        ", 16) == 0);
    CHECK(memcmp(pdu + 26, "IMAGEDATA       ", 16) == 0);
    /* The first item at 74: the application context (type 10). */
    CHECK_INT(pdu[74], 0x10);
    CHECK_INT(imd__load_be16(pdu + 76), strlen(IMD_NET_APPLICATION_CONTEXT));
    CHECK(memcmp(pdu + 78, IMD_NET_APPLICATION_CONTEXT, strlen(IMD_NET_APPLICATION_CONTEXT)) == 0);
    CHECK_OK(error, imd__pdu_decode_associate(&error, pdu, size, back, "test"));
    CHECK_STR(back->called_aet, "STORESCP");
    CHECK_STR(back->calling_aet, "IMAGEDATA");
    CHECK_STR(back->application_context, IMD_NET_APPLICATION_CONTEXT);
    CHECK_INT(back->context_count, 2);
    CHECK_INT(back->contexts[1].id, 3);
    CHECK_STR(back->contexts[0].transfer_syntaxes[1], IMD_UID_IMPLICIT_VR_LE);
    CHECK_INT(back->max_length, 32768);
    CHECK_STR(back->implementation_class_uid, IMD_NET_IMPLEMENTATION_CLASS_UID);
    CHECK_STR(back->implementation_version, IMD_IMPLEMENTATION_VERSION_NAME);
    CHECK_INT(back->role_count, 1);
    CHECK(!back->roles[0].scu && back->roles[0].scp);
    CHECK_INT(back->identity_type, 2);
    CHECK_STR(back->identity_primary, "alice");
    CHECK_STR(back->identity_secondary, "pw");

    /* Every truncation (with the header's length made to agree) is refused. */
    for (size_t n = 0; n < size; n++) {
        uint8_t *cut = malloc(n > 0 ? n : 1);
        REQUIRE(cut != NULL);
        memcpy(cut, pdu, n);
        if (n >= 6) {
            uint32_t length = (uint32_t)(n - 6);
            cut[2] = (uint8_t)(length >> 24);
            cut[3] = (uint8_t)(length >> 16);
            cut[4] = (uint8_t)(length >> 8);
            cut[5] = (uint8_t)length;
        }
        CHECK_FAILS(error, imd__pdu_decode_associate(&error, cut, n, back, "test"),
                    IMD_ERR_PROTOCOL);
        free(cut);
    }
    imd__net_associate_clear(back);
    free(back);
    free(pdu);
    free(rq);
}

IMD_TEST(associate_ac_and_reject)
{
    ImdError *error = NULL;
    ImdNetAssociate *ac = request(), *back = calloc(1, sizeof *back);
    REQUIRE(ac != NULL && back != NULL);
    ac->identity_type = 0;
    ac->contexts[0].result = IMD_PC_ACCEPTANCE;
    ac->contexts[0].transfer_syntax_count = 1;
    ac->contexts[1].result = IMD_PC_ABSTRACT_NOT_SUPPORTED;
    ac->contexts[1].transfer_syntax_count = 0;
    uint8_t *pdu = NULL;
    size_t size = 0;
    CHECK_OK(error, imd__pdu_encode_associate(&error, IMD_PDU_ASSOCIATE_AC, ac, &pdu, &size));
    REQUIRE(pdu != NULL);
    CHECK_OK(error, imd__pdu_decode_associate(&error, pdu, size, back, "test"));
    CHECK_INT(back->contexts[0].result, IMD_PC_ACCEPTANCE);
    CHECK_STR(back->contexts[0].transfer_syntaxes[0], IMD_UID_EXPLICIT_VR_LE);
    CHECK_INT(back->contexts[1].result, IMD_PC_ABSTRACT_NOT_SUPPORTED);
    CHECK_INT(back->contexts[1].transfer_syntax_count, 0);
    /* A result above 4 (PS3.8 Table 9-18) is refused: the first context's result byte. */
    size_t at = 74 + 4 + strlen(IMD_NET_APPLICATION_CONTEXT);
    CHECK_INT(pdu[at], 0x21);
    pdu[at + 6] = 5;
    CHECK_FAILS(error, imd__pdu_decode_associate(&error, pdu, size, back, "test"),
                IMD_ERR_PROTOCOL);
    imd__net_associate_clear(back);
    free(back);
    free(pdu);
    free(ac);

    const uint8_t rj[10] = {3, 0, 0, 0, 0, 4, 0, 1, 1, 7};
    ImdNetReject reject;
    char text[200];
    CHECK_OK(error, imd__pdu_decode_reject(&error, rj, sizeof rj, &reject, "test"));
    CHECK(strstr(imd__net_reject_text(&reject, text, sizeof text),
                 "permanently by the called AE (service user): called AE title not recognized") !=
          NULL);
    CHECK_FAILS(error, imd__pdu_decode_reject(&error, rj, 9, &reject, "test"), IMD_ERR_PROTOCOL);
    const uint8_t ab[10] = {7, 0, 0, 0, 0, 4, 0, 0, 2, 6};
    uint8_t source = 0, reason = 0;
    CHECK_OK(error, imd__pdu_decode_abort(&error, ab, sizeof ab, &source, &reason, "test"));
    CHECK(strstr(imd__net_abort_text(source, reason, text, sizeof text),
                 "invalid PDU parameter value") != NULL);
}

typedef struct Seen {
    size_t count;
    uint8_t bytes[64];
    size_t size;
    bool last_command;
} Seen;

static bool collect(ImdError **error, void *user, const ImdNetPdv *pdv)
{
    Seen *seen = user;
    (void)error;
    seen->count++;
    memcpy(seen->bytes + seen->size, pdv->data, pdv->size);
    seen->size += pdv->size;
    seen->last_command = pdv->command && pdv->last;
    return true;
}

IMD_TEST(p_data)
{
    ImdError *error = NULL;
    uint8_t header[12];
    imd__pdu_data_header(header, 5, true, true, 10);
    const uint8_t want[12] = {4, 0, 0, 0, 0, 16, 0, 0, 0, 12, 5, 3};
    CHECK(memcmp(header, want, sizeof want) == 0);
    /* Two PDVs in one PDU (PS3.8 §9.3.5): "abc" then "de", the last a command's end. */
    uint8_t pdu[] = {4, 0, 0, 0, 0, 17, 0, 0, 0, 5, 1, 1, 'a', 'b', 'c',
                     0, 0, 0, 4, 1, 3, 'd', 'e'};
    Seen seen = {0};
    CHECK_OK(error, imd__pdu_decode_data(&error, pdu, sizeof pdu, collect, &seen, "test"));
    CHECK_INT(seen.count, 2);
    CHECK(seen.size == 5 && memcmp(seen.bytes, "abcde", 5) == 0 && seen.last_command);
    pdu[9] = 1; /* a PDV length below its 2-byte header */
    CHECK_FAILS(error, imd__pdu_decode_data(&error, pdu, sizeof pdu, collect, &seen, "test"),
                IMD_ERR_PROTOCOL);
    pdu[9] = 40; /* past the PDU */
    CHECK_FAILS(error, imd__pdu_decode_data(&error, pdu, sizeof pdu, collect, &seen, "test"),
                IMD_ERR_PROTOCOL);
    pdu[9] = 5;
    pdu[11] = 0x81; /* reserved bits (PS3.8 E.2) */
    CHECK_FAILS(error, imd__pdu_decode_data(&error, pdu, sizeof pdu, collect, &seen, "test"),
                IMD_ERR_PROTOCOL);
    const uint8_t empty[6] = {4, 0, 0, 0, 0, 0};
    CHECK_FAILS(error, imd__pdu_decode_data(&error, empty, sizeof empty, collect, &seen, "test"),
                IMD_ERR_PROTOCOL);
}

IMD_TEST(command_sets)
{
    ImdError *error = NULL;
    ImdDicomDataSet *command = imd_dicom_dataset_create(&error);
    REQUIRE(command != NULL);
    double field = IMD_DIMSE_C_ECHO_RQ, id = 7, none = IMD_DIMSE_NO_DATASET;
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, command, IMD_TAG_AffectedSOPClassUID,
                                                 IMD_VR_UI, IMD_NET_VERIFICATION_SOP_CLASS));
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, command, IMD_TAG_CommandField,
                                                  IMD_VR_US, &field, 1));
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, command, IMD_TAG_MessageID, IMD_VR_US,
                                                  &id, 1));
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, command, IMD_TAG_CommandDataSetType,
                                                  IMD_VR_US, &none, 1));
    uint8_t *bytes = NULL;
    size_t size = 0;
    CHECK_OK(error, imd__dimse_encode_command(&error, command, &bytes, &size));
    REQUIRE(bytes != NULL);
    /* PS3.7 §E.1 in Implicit VR LE: (0000,0000) UL = the bytes after it; the UID
     * "1.2.840.10008.1.1" (17) padded with NUL to 18. */
    const uint8_t want[] = {0, 0, 0, 0, 4, 0, 0, 0, 56, 0, 0, 0,
                            0, 0, 2, 0, 18, 0, 0, 0, '1', '.', '2', '.', '8', '4', '0', '.', '1',
                            '0', '0', '0', '8', '.', '1', '.', '1', 0,
                            0, 0, 0, 1, 2, 0, 0, 0, 0x30, 0,
                            0, 0, 0x10, 1, 2, 0, 0, 0, 7, 0,
                            0, 0, 0, 8, 2, 0, 0, 0, 1, 1};
    CHECK_INT(size, sizeof want);
    CHECK(size == sizeof want && memcmp(bytes, want, size) == 0);
    ImdDicomDataSet *back = imd__dimse_decode_command(&error, bytes, size, "test");
    uint16_t value = 0;
    CHECK(back != NULL && imd__dimse_get_us(back, IMD_TAG_MessageID, &value) && value == 7);
    imd_dicom_dataset_destroy(back);
    imd_error_clear(&error);

    uint8_t bad[sizeof want];
    memcpy(bad, want, sizeof want);
    bad[16] = 200; /* the UID's length past the end */
    CHECK_FAILS(error, imd__dimse_decode_command(&error, bad, sizeof bad, "test") != NULL,
                IMD_ERR_PROTOCOL);
    memcpy(bad, want, sizeof want);
    bad[38 + 1] = 0x10; /* (1000,0100): outside group 0000 */
    CHECK_FAILS(error, imd__dimse_decode_command(&error, bad, sizeof bad, "test") != NULL,
                IMD_ERR_PROTOCOL);
    memcpy(bad, want, sizeof want);
    bad[51] = 0; /* (0000,0010) after (0000,0100): out of order */
    CHECK_FAILS(error, imd__dimse_decode_command(&error, bad, sizeof bad, "test") != NULL,
                IMD_ERR_PROTOCOL);
    CHECK_FAILS(error, imd__dimse_decode_command(&error, want, 12, "test") != NULL,
                IMD_ERR_PROTOCOL); /* no Command Field */
    free(bytes);
    imd_dicom_dataset_destroy(command);
}

IMD_TEST(statuses)
{
    /* PS3.7 Annex C, PS3.4 Table B.2-1. */
    CHECK_INT(imd__dimse_status_kind(0x0000), IMD_STATUS_SUCCESS);
    CHECK_INT(imd__dimse_status_kind(0xB000), IMD_STATUS_WARNING);
    CHECK_INT(imd__dimse_status_kind(0xB007), IMD_STATUS_WARNING);
    CHECK_INT(imd__dimse_status_kind(0x0107), IMD_STATUS_WARNING);
    CHECK_INT(imd__dimse_status_kind(0x0001), IMD_STATUS_WARNING);
    CHECK_INT(imd__dimse_status_kind(0xA700), IMD_STATUS_FAILURE);
    CHECK_INT(imd__dimse_status_kind(0xA900), IMD_STATUS_FAILURE);
    CHECK_INT(imd__dimse_status_kind(0xC000), IMD_STATUS_FAILURE);
    CHECK_INT(imd__dimse_status_kind(0x0122), IMD_STATUS_FAILURE);
    CHECK_INT(imd__dimse_status_kind(0x0211), IMD_STATUS_FAILURE);
    CHECK_INT(imd__dimse_status_kind(0xFF00), IMD_STATUS_PENDING);
    CHECK_INT(imd__dimse_status_kind(0xFE00), IMD_STATUS_CANCEL);
    CHECK_STR(imd__dimse_status_text(0xA701), "refused: out of resources");
    CHECK_STR(imd__dimse_status_text(0x0122), "SOP class not supported");
}

IMD_TEST(refused_connection_and_bad_urls)
{
    ImdError *error = NULL;
    uint16_t status = 0;
    CHECK_FAILS(error, imd_dicom_echo(&error, NULL, "/tmp/x", NULL, &status),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_dicom_echo(&error, NULL, "dicom://127.0.0.1:1/AE\\X", NULL, &status),
                IMD_ERR_INVALID_ARG);
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "calling_aet", "MUCH_TOO_LONG_AE_TITLE"));
    CHECK_FAILS(error, imd_dicom_echo(&error, NULL, "dicom://127.0.0.1:1/AE", options, &status),
                IMD_ERR_INVALID_ARG);
    CHECK_OK(error, imd_options_set(&error, options, "calling_aet", "ME"));
    CHECK_OK(error, imd_options_set(&error, options, "net_connect_timeout", "0"));
    CHECK_FAILS(error, imd_dicom_echo(&error, NULL, "dicom://127.0.0.1:1/AE", options, &status),
                IMD_ERR_INVALID_ARG);
    CHECK_OK(error, imd_options_set(&error, options, "net_connect_timeout", "2"));
    /* Port 1 on loopback: nothing listens there (a refused connection, exit 7). */
    CHECK_FAILS(error, imd_dicom_echo(&error, NULL, "dicom://127.0.0.1:1/AE", options, &status),
                IMD_ERR_NETWORK);
    imd_options_destroy(options);
}

IMD_TEST_MAIN(IMD_CASE(associate_rq_layout_and_round_trip), IMD_CASE(associate_ac_and_reject),
              IMD_CASE(p_data), IMD_CASE(command_sets), IMD_CASE(statuses),
              IMD_CASE(refused_connection_and_bad_urls))
