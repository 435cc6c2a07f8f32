/*
 * fuzz_pdu.c: the DICOM upper layer's PDU decoders and the DIMSE command
 * parser (src/net), what a hostile peer controls.
 *
 * The input is one PDU (header included), decoded by its type byte:
 * A-ASSOCIATE-RQ/AC (and, when that succeeds, encoded again and decoded
 * again: the round trip must keep every field), A-ASSOCIATE-RJ, A-ABORT,
 * P-DATA-TF (each command PDV parsed as a command set). The whole input is
 * also parsed as a command set. Beyond "no crash": the result/error
 * invariant and the round trip.
 */
#include "net/net.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_pdu: invariant failed: %s\n", what);
        abort();
    }
}

static bool visit(ImdError **error, void *user, const ImdNetPdv *pdv)
{
    size_t *count = user;
    (*count)++;
    require(pdv->size < (size_t)1 << 32, "a PDV within a 32-bit length");
    if (pdv->command) {
        ImdError *local = NULL;
        ImdDicomDataSet *command = imd__dimse_decode_command(&local, pdv->data, pdv->size, "fuzz");
        require((command == NULL) == (local != NULL), "command NULL exactly when an error is set");
        imd_dicom_dataset_destroy(command);
        imd_error_clear(&local);
    }
    (void)error;
    return true;
}

static void same(const ImdNetAssociate *a, const ImdNetAssociate *b)
{
    require(strcmp(a->called_aet, b->called_aet) == 0 && strcmp(a->calling_aet, b->calling_aet) == 0,
            "AE titles survive the round trip");
    require(a->context_count == b->context_count, "contexts survive the round trip");
    for (size_t i = 0; i < a->context_count; i++) {
        require(a->contexts[i].id == b->contexts[i].id, "context IDs survive");
        require(a->contexts[i].transfer_syntax_count == b->contexts[i].transfer_syntax_count,
                "transfer syntaxes survive");
    }
    require(a->max_length == b->max_length, "maximum length survives");
    require(a->role_count == b->role_count, "roles survive");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ImdError *error = NULL;
    uint8_t type = size > 0 ? data[0] : 0;
    if (type == IMD_PDU_ASSOCIATE_RQ || type == IMD_PDU_ASSOCIATE_AC) {
        ImdNetAssociate *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
        if (a != NULL && b != NULL) {
            bool ok = imd__pdu_decode_associate(&error, data, size, a, "fuzz");
            require(ok == (error == NULL), "associate: false exactly when an error is set");
            imd_error_clear(&error);
            uint8_t *again = NULL;
            size_t again_size = 0;
            /* Empty AE titles or UIDs cannot be encoded: only a full decode round-trips. */
            if (ok && imd__pdu_encode_associate(&error, type, a, &again, &again_size)) {
                bool back = imd__pdu_decode_associate(&error, again, again_size, b, "fuzz");
                if (back) {
                    same(a, b);
                }
                free(again);
            }
            imd_error_clear(&error);
            imd__net_associate_clear(a);
            imd__net_associate_clear(b);
        }
        free(a);
        free(b);
    } else if (type == IMD_PDU_ASSOCIATE_RJ) {
        ImdNetReject reject;
        char text[256];
        if (imd__pdu_decode_reject(&error, data, size, &reject, "fuzz")) {
            (void)imd__net_reject_text(&reject, text, sizeof text);
        }
    } else if (type == IMD_PDU_ABORT) {
        uint8_t source, reason;
        char text[256];
        if (imd__pdu_decode_abort(&error, data, size, &source, &reason, "fuzz")) {
            (void)imd__net_abort_text(source, reason, text, sizeof text);
        }
    } else if (type == IMD_PDU_DATA_TF) {
        size_t count = 0;
        bool ok = imd__pdu_decode_data(&error, data, size, visit, &count, "fuzz");
        require(ok == (error == NULL), "P-DATA: false exactly when an error is set");
        require(!ok || count > 0, "a decoded P-DATA-TF holds a PDV");
    }
    imd_error_clear(&error);
    ImdDicomDataSet *command = imd__dimse_decode_command(&error, data, size, "fuzz");
    require((command == NULL) == (error != NULL), "command NULL exactly when an error is set");
    if (command != NULL) {
        uint8_t *bytes = NULL;
        size_t n = 0;
        if (imd__dimse_encode_command(&error, command, &bytes, &n)) {
            ImdDicomDataSet *again = imd__dimse_decode_command(&error, bytes, n, "fuzz");
            require(again != NULL, "an encoded command decodes");
            imd_dicom_dataset_destroy(again);
            free(bytes);
        }
    }
    imd_dicom_dataset_destroy(command);
    imd_error_clear(&error);
    return 0;
}
