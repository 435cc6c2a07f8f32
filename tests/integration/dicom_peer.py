#!/usr/bin/python3
"""A small DICOM storage/verification peer for tests, written from the standard
(PS3.8 upper layer PDUs, PS3.7 DIMSE commands): socket + struct, no DICOM library.

It listens on 127.0.0.1 (a free port, written to --port-file), serves
associations one at a time, and misbehaves on request:

  --reject R,S,N      answer every A-ASSOCIATE-RQ with A-ASSOCIATE-RJ (result, source, reason)
  --abort-after N     send A-ABORT instead of answering the (N+1)-th C-STORE-RQ
  --fail K            answer the K-th C-STORE (1-based) with status A700 and an Error Comment
  --warn K            answer the K-th C-STORE with status B000 (coercion of data elements)
  --silent-after N    after N C-STOREs, read on but never answer again
  --oversize          answer the first request with a P-DATA-TF longer than the requestor allows
  --only-ts UID,...   accept only these transfer syntaxes
  --max-pdu N         the maximum length we announce (default 16384)
  --split             send each response command in PDVs of 8 bytes, two per P-DATA-TF
  --log FILE          one JSON object per event: the association request's fields, every
                      stored instance (SOP class, instance UID, transfer syntax, size, the
                      largest P-DATA-TF received) and any protocol violation by the requestor
  --out DIR           write each received data set to DIR/<SOPInstanceUID>.dcm as a Part 10
                      file (meta group built here), for comparison with pydicom

The requestor's P-DATA-TF PDUs are checked against the announced maximum (PS3.8 D.1):
a longer one is logged as a violation.
"""
import argparse
import json
import os
import socket
import struct
import sys

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"


def uid_bytes(text):
    data = text.encode("ascii")
    return data


def item(kind, payload):
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def pdu(kind, payload):
    return struct.pack(">BBI", kind, 0, len(payload)) + payload


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def read_pdu(conn):
    head = recv_exact(conn, 6)
    kind, _, length = struct.unpack(">BBI", head)
    return kind, recv_exact(conn, length)


def parse_items(data):
    at = 0
    while at < len(data):
        kind, _, length = struct.unpack(">BBH", data[at:at + 4])
        yield kind, data[at + 4:at + 4 + length]
        at += 4 + length


def parse_rq(body):
    called = body[4:20].decode("ascii").strip()
    calling = body[20:36].decode("ascii").strip()
    out = {"called": called, "calling": calling, "contexts": [], "max_length": None,
           "implementation_class_uid": None, "implementation_version": None,
           "roles": [], "identity": None, "application_context": None}
    for kind, value in parse_items(body[68:]):
        if kind == 0x10:
            out["application_context"] = value.decode("ascii")
        elif kind == 0x20:
            ctx = {"id": value[0], "abstract": None, "transfer": []}
            for sub, sv in parse_items(value[4:]):
                if sub == 0x30:
                    ctx["abstract"] = sv.decode("ascii").rstrip("\0")
                elif sub == 0x40:
                    ctx["transfer"].append(sv.decode("ascii").rstrip("\0"))
            out["contexts"].append(ctx)
        elif kind == 0x50:
            for sub, sv in parse_items(value):
                if sub == 0x51:
                    out["max_length"] = struct.unpack(">I", sv)[0]
                elif sub == 0x52:
                    out["implementation_class_uid"] = sv.decode("ascii")
                elif sub == 0x55:
                    out["implementation_version"] = sv.decode("ascii")
                elif sub == 0x54:
                    n = struct.unpack(">H", sv[:2])[0]
                    out["roles"].append([sv[2:2 + n].decode("ascii"), sv[2 + n], sv[3 + n]])
                elif sub == 0x58:
                    p = struct.unpack(">H", sv[2:4])[0]
                    primary = sv[4:4 + p].decode("latin-1")
                    s = struct.unpack(">H", sv[4 + p:6 + p])[0]
                    secondary = sv[6 + p:6 + p + s].decode("latin-1")
                    out["identity"] = [sv[0], sv[1], primary, secondary]
    return out


def build_ac(rq_body, rq, only_ts, max_pdu):
    accepted = {}
    items = [item(0x10, uid_bytes("1.2.840.10008.3.1.1.1"))]
    for ctx in rq["contexts"]:
        choice = None
        for ts in ctx["transfer"]:
            if only_ts is None or ts in only_ts:
                choice = ts
                break
        result = 0 if choice is not None else 4
        payload = struct.pack(">BBBB", ctx["id"], 0, result, 0) + item(0x40, uid_bytes(choice or IMPLICIT))
        items.append(item(0x21, payload))
        if choice is not None:
            accepted[ctx["id"]] = (ctx["abstract"], choice)
    user = item(0x51, struct.pack(">I", max_pdu)) + item(0x52, b"1.2.3.4") + item(0x55, b"TESTPEER")
    items.append(item(0x50, user))
    fixed = rq_body[:68]
    return pdu(0x02, fixed + b"".join(items)), accepted


def parse_command(data):
    out = {}
    at = 0
    while at + 8 <= len(data):
        group, element, length = struct.unpack("<HHI", data[at:at + 8])
        out[element] = data[at + 8:at + 8 + length]
        at += 8 + length
    return out


def us(value):
    return struct.pack("<H", value)


def encode_command(elements):
    body = b""
    for element in sorted(elements):
        value = elements[element]
        if len(value) % 2:
            value += b"\0" if element in (0x0002, 0x1000) else b" "
        body += struct.pack("<HHI", 0, element, len(value)) + value
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def send_message(conn, ctx, command, max_len):
    room = max_len - 6
    chunks = [command[i:i + room] for i in range(0, len(command), room)] or [b""]
    for i, chunk in enumerate(chunks):
        flags = 1 | (2 if i == len(chunks) - 1 else 0)
        pdv = struct.pack(">IBB", len(chunk) + 2, ctx, flags) + chunk
        conn.sendall(pdu(0x04, pdv))


def write_part10(path, sop_class, sop_instance, ts, data):
    def elem(element, vr, value):
        if len(value) % 2:
            value += b"\0"
        if vr in (b"OB",):
            return struct.pack("<HH2sHI", 2, element, vr, 0, len(value)) + value
        return struct.pack("<HH2sH", 2, element, vr, len(value)) + value
    meta = (elem(0x0001, b"OB", b"\0\1") + elem(0x0002, b"UI", sop_class.encode()) +
            elem(0x0003, b"UI", sop_instance.encode()) + elem(0x0010, b"UI", ts.encode()) +
            elem(0x0012, b"UI", b"1.2.3.4"))
    group = struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(meta))
    with open(path, "wb") as f:
        f.write(b"\0" * 128 + b"DICM" + group + meta + data)


class Peer:
    def __init__(self, args):
        self.args = args
        self.stores = 0
        self.log = open(args.log, "a") if args.log else None

    def event(self, **fields):
        if self.log:
            self.log.write(json.dumps(fields) + "\n")
            self.log.flush()

    def serve(self, conn):
        kind, body = read_pdu(conn)
        if kind != 0x01:
            return
        rq = parse_rq(body)
        self.event(event="associate", **rq)
        if self.args.reject:
            r, s, n = (int(x) for x in self.args.reject.split(","))
            conn.sendall(pdu(0x03, bytes([0, r, s, n])))
            return
        only = set(self.args.only_ts.split(",")) if self.args.only_ts else None
        ac, accepted = build_ac(body, rq, only, self.args.max_pdu)
        conn.sendall(ac)
        peer_max = rq["max_length"] or (1 << 20)
        command, data, largest = b"", b"", 0
        silent = False
        while True:
            try:
                kind, body = read_pdu(conn)
            except EOFError:
                return
            if kind == 0x05:
                conn.sendall(pdu(0x06, b"\0\0\0\0"))
                self.event(event="released", stores=self.stores)
                return
            if kind == 0x07:
                self.event(event="aborted by requestor")
                return
            if kind != 0x04:
                self.event(event="violation", what="unexpected PDU 0x%02x" % kind)
                return
            if len(body) > self.args.max_pdu:
                self.event(event="violation", what="P-DATA-TF of %d bytes > %d" % (len(body), self.args.max_pdu))
            largest = max(largest, len(body))
            at = 0
            done = False
            while at < len(body):
                length, ctx, flags = struct.unpack(">IBB", body[at:at + 6])
                value = body[at + 6:at + 4 + length]
                at += 4 + length
                if flags & 1:
                    command += value
                else:
                    data += value
                cmd = parse_command(command) if (flags & 3) == 3 else None
                if (flags & 3) == 3 and struct.unpack("<H", cmd[0x0800])[0] == 0x0101:
                    done = True
                if (flags & 3) == 2:
                    done = True
            if not done:
                continue
            cmd = parse_command(command)
            field = struct.unpack("<H", cmd[0x0100])[0]
            message_id = struct.unpack("<H", cmd[0x0110])[0]
            if silent:
                command, data = b"", b""
                continue
            if field == 0x0030:
                response = {0x0002: VERIFICATION.encode(), 0x0100: us(0x8030), 0x0120: us(message_id),
                            0x0800: us(0x0101), 0x0900: us(0)}
            elif field == 0x0001:
                if self.args.abort_after is not None and self.stores >= self.args.abort_after:
                    conn.sendall(pdu(0x07, bytes([0, 0, 2, 0])))
                    self.event(event="aborted", stores=self.stores)
                    return
                self.stores += 1
                sop_class = cmd[0x0002].rstrip(b"\0 ").decode()
                sop_instance = cmd[0x1000].rstrip(b"\0 ").decode()
                ts = accepted[ctx][1]
                status, comment = 0, None
                if self.args.fail == self.stores:
                    status, comment = 0xA700, b"test peer refuses this one"
                elif self.args.warn == self.stores:
                    status = 0xB000
                self.event(event="store", sop_class=sop_class, sop_instance=sop_instance,
                           transfer_syntax=ts, size=len(data), largest_pdu=largest,
                           status=status)
                if self.args.out and status != 0xA700:
                    write_part10(os.path.join(self.args.out, sop_instance + ".dcm"), sop_class,
                                 sop_instance, ts, data)
                response = {0x0002: cmd[0x0002], 0x0100: us(0x8001), 0x0120: us(message_id),
                            0x0800: us(0x0101), 0x0900: us(status), 0x1000: cmd[0x1000]}
                if comment:
                    response[0x0902] = comment
                if self.args.silent_after is not None and self.stores >= self.args.silent_after:
                    silent = True
                    self.event(event="silent", stores=self.stores)
                    command, data = b"", b""
                    continue
            else:
                self.event(event="violation", what="command 0x%04x" % field)
                return
            encoded = encode_command(response)
            if self.args.oversize:
                # One PDV bigger than the requestor announced (PS3.8 D.1 forbids it).
                filler = encoded + b"\0" * (peer_max + 100)
                pdv = struct.pack(">IBB", len(filler) + 2, ctx, 3) + filler
                conn.sendall(pdu(0x04, pdv))
                self.event(event="oversize sent", length=len(pdv))
            elif self.args.split:
                pieces = [encoded[i:i + 8] for i in range(0, len(encoded), 8)]
                pdvs = [struct.pack(">IBB", len(x) + 2, ctx, 1 | (2 if i == len(pieces) - 1 else 0)) + x
                        for i, x in enumerate(pieces)]
                for i in range(0, len(pdvs), 2):
                    conn.sendall(pdu(0x04, b"".join(pdvs[i:i + 2])))
            else:
                send_message(conn, ctx, encoded, peer_max)
            command, data, largest = b"", b"", 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--reject")
    parser.add_argument("--abort-after", type=int)
    parser.add_argument("--fail", type=int)
    parser.add_argument("--warn", type=int)
    parser.add_argument("--silent-after", type=int)
    parser.add_argument("--oversize", action="store_true")
    parser.add_argument("--split", action="store_true")
    parser.add_argument("--only-ts")
    parser.add_argument("--max-pdu", type=int, default=16384)
    parser.add_argument("--log")
    parser.add_argument("--out")
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(tmp, args.port_file)
    peer = Peer(args)
    while True:
        conn, _ = server.accept()
        try:
            peer.serve(conn)
        except (EOFError, ConnectionError) as e:
            peer.event(event="connection ended", why=str(e))
        finally:
            if not (args.silent_after is not None and peer.stores >= args.silent_after):
                conn.close()
            else:
                # Keep the connection open and unanswered, as a hung peer would.
                peer.hung = conn


if __name__ == "__main__":
    sys.exit(main())
