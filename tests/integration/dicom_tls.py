"""DICOM over TLS (issue 18 item 5; docs/network.md "TLS").

Loopback only; every server is started and stopped here, in `work`. The
certificates are made here with `openssl req` and `openssl x509`: a test CA,
a server certificate (subjectAltName localhost and 127.0.0.1) and a client
certificate signed by it, and a second CA that signs a rogue server
certificate (same names) and a rogue client certificate.

1. Our client -> dcmtk `storescp +tls ... +cf ca` (which requires a client
   certificate): dicom_echo succeeds; image_data sends the `time` series
   (9 files): the SOPInstanceUIDs received are the source's and every pixel
   array equals the source's (pydicom).
2. Our client refuses: a server certificate from the other CA (exit 7, the
   message says the certificate was not verified; no instance reaches
   storescp), and a server certificate for another host name (exit 7,
   "mismatch"); tls_verify=false is the only way past (exit 0).
3. dcmtk `storescu +tls` and `echoscu +tls` -> image_receive --tls with
   --tls_ca (client certificates required): the received files' data sets
   equal the sent ones byte for byte (pydicom reads both); the receiver's
   NIfTI equals image_data on the received folder and on the source folder
   (nibabel: shape, affine, every voxel); the association is logged with its
   TLS version and the client's certificate.
4. Our client -> our receiver over TLS: the 9 instances arrive, pixel data
   equal to the source's.
5. Bad cases against the receiver, each refusing that connection only (an
   echo afterwards still works): a client without a certificate (exit 7,
   "certificate required"), a client certificate from the other CA, a plain
   TCP client (dicom_echo and echoscu) at the TLS port, and a TLS client
   (dicom_echo and echoscu) at a plain receiver: clear messages, each well
   within the timeout given (no hang).
6. Bad configuration: a key that does not match the certificate, a missing
   file: exit 1 naming the file and the reason, for the client and for the
   receiver.
7. The BCP 195 profile, with `openssl s_client` and `s_server` as peers:
   the receiver accepts TLS 1.2 with an RFC 9325 suite (ECDHE, AES-GCM) and
   refuses TLS 1.1 and a suite outside the profile (AES128-SHA); our client
   speaks TLS 1.2 to a 1.2-only server (which answers no DICOM: the
   association timeout of 2 s ends it) and refuses a server that offers only
   AES128-SHA; a peer that never starts its handshake is closed by the
   receiver at its association timeout (1 s).
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import nibabel as nib
import numpy as np
import pydicom

warnings.simplefilter("ignore")
build, shared, work = sys.argv[1:4]
cli = os.path.join(build, "cli")
image_data = os.path.join(cli, "image_data")
image_receive = os.path.join(cli, "image_receive")
dicom_echo = os.path.join(cli, "dicom_echo")
data = os.path.join(shared, "data", "imagedata", "dicom")
certs = os.path.join(work, "certs")
failures = []
servers = []
# dcmtk's tools wait ~40 ms per message without this (docs/network.md).
dcmtk_env = dict(os.environ, TCP_NODELAY="1")


def fail(text):
    failures.append(text)
    print("FAIL:", text)


def check(condition, text):
    if condition:
        print("ok:", text)
    else:
        fail(text)
    return condition


def run(args, timeout=120, env=None):
    start = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    r.seconds = time.time() - start
    r.text = r.stdout + r.stderr
    return r


def openssl(*args):
    r = run(["openssl"] + list(args))
    if r.returncode != 0:
        raise SystemExit("FAIL: openssl %s: %s" % (" ".join(args), r.text))


def cert(name):
    return os.path.join(certs, name)


def make_certificates():
    os.makedirs(certs)
    for ca, cn in [("ca", "imagedata test CA"), ("other", "some other CA")]:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=" + cn, "-keyout", cert(ca + ".key"), "-out", cert(ca + ".pem"))
    names = cert("names.ext")
    with open(names, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    elsewhere = cert("elsewhere.ext")
    with open(elsewhere, "w") as f:
        f.write("subjectAltName=DNS:elsewhere.example\n")
    # name, CN, signing CA, extensions
    for name, cn, ca, ext in [("server", "server", "ca", names), ("client", "CLIENT1", "ca", None),
                              ("rogue", "server", "other", names),
                              ("rogue_client", "ROGUE", "other", None),
                              ("elsewhere", "elsewhere", "ca", elsewhere)]:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                "-keyout", cert(name + ".key"), "-out", cert(name + ".csr"))
        args = ["x509", "-req", "-in", cert(name + ".csr"), "-CA", cert(ca + ".pem"),
                "-CAkey", cert(ca + ".key"), "-CAcreateserial", "-days", "2",
                "-out", cert(name + ".pem")]
        if ext:
            args += ["-extfile", ext]
        openssl(*args)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, process, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if process.poll() is not None:
            raise SystemExit("FAIL: a server exited at once (%d)" % process.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("FAIL: nothing listens on port %d" % port)


class Storescp:
    """dcmtk's storescp in TLS mode: server certificate `pem`, client
    certificates required and verified against the test CA."""

    def __init__(self, name, pem="server.pem", key="server.key"):
        self.out = os.path.join(work, name)
        os.makedirs(self.out)
        self.port = free_port()
        self.log = open(os.path.join(work, name + ".log"), "w")
        self.process = subprocess.Popen(
            ["storescp", "-aet", "STORESCP", "-od", self.out, "+tls", cert(key), cert(pem),
             "+cf", cert("ca.pem"), str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=dcmtk_env)
        servers.append(self.process)
        # A probe connection is harmless: storescp logs a failed handshake.
        wait_port(self.port, self.process)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def files(self):
        return sorted(glob.glob(os.path.join(self.out, "*")))


class Receiver:
    def __init__(self, name, tls=True, extra=()):
        self.root = os.path.join(work, name)
        self.out = os.path.join(self.root, "out")
        os.makedirs(self.root)
        port_file = os.path.join(self.root, "port")
        self.log_path = os.path.join(self.root, "log.txt")
        self.log = open(self.log_path, "w")
        args = [image_receive, "--port", "0", "--port_file", port_file, "--aet", "RECV",
                "--quiet_time", "0.5", "--association_timeout", "10", "--idle_timeout", "20"]
        if tls:
            args += ["--tls", "--tls_cert", cert("server.pem"), "--tls_key", cert("server.key"),
                     "--tls_ca", cert("ca.pem")]
        self.process = subprocess.Popen(args + list(extra) + [self.out, "--", "--of", "nifti"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        servers.append(self.process)
        end = time.time() + 20
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > end or self.process.poll() is not None:
                raise SystemExit("FAIL: image_receive did not start: %s" % self.text())
            time.sleep(0.05)
        self.port = int(open(port_file).read())
        self.url = "dicom://127.0.0.1:%d/RECV" % self.port

    def text(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path).read()

    def wait_log(self, needle, count=1, seconds=60):
        end = time.time() + seconds
        while time.time() < end:
            if self.text().count(needle) >= count:
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


CLIENT = ["--tls_ca", cert("ca.pem"), "--tls_cert", cert("client.pem"),
          "--tls_key", cert("client.key")]
DCMTK_CLIENT = ["+tls", cert("client.key"), cert("client.pem"), "+cf", cert("ca.pem")]


def echo(url, flags=(), timeout="5"):
    return run([dicom_echo, "--timeout", timeout] + list(flags) + [url])


def files_of(name):
    return sorted(glob.glob(os.path.join(data, name, "**", "*.dcm"), recursive=True))


def dataset_bytes(path):
    with open(path, "rb") as f:
        pydicom.filereader.read_preamble(f, False)
        meta = pydicom.filereader._read_file_meta_info(f)
        return f.read(), str(meta.TransferSyntaxUID)


def same_pixels(sent_files, received_files, what):
    """The same SOPInstanceUIDs, each with the source's pixel array."""
    got = {}
    for path in received_files:
        ds = pydicom.dcmread(path)
        got[str(ds.SOPInstanceUID)] = ds
    equal = 0
    for path in sent_files:
        src = pydicom.dcmread(path)
        ds = got.get(str(src.SOPInstanceUID))
        if ds is None or not np.array_equal(ds.pixel_array, src.pixel_array):
            fail("%s: %s missing or with other pixels" % (what, src.SOPInstanceUID))
        else:
            equal += 1
    check(equal == len(sent_files) and len(got) == len(sent_files),
          "%s: %d of %d instances arrived (%d received), pixel data equal to the source's"
          % (what, equal, len(sent_files), len(got)))


def same_datasets(sent_files, received_root, what):
    received = {}
    for path in glob.glob(os.path.join(received_root, "**", "*.dcm"), recursive=True):
        received[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = path
    same = 0
    for path in sent_files:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        if uid not in received:
            fail("%s: %s not received" % (what, uid))
            continue
        a, ts_a = dataset_bytes(path)
        b, ts_b = dataset_bytes(received[uid])
        if ts_a == ts_b and a == b:
            same += 1
        elif ts_a != ts_b and pydicom.dcmread(path) == pydicom.dcmread(received[uid]):
            same += 1
        else:
            fail("%s: %s: the data set differs from the sent one" % (what, uid))
    check(same == len(sent_files) == len(received),
          "%s: %d sent, %d received, %d data sets equal to the sent ones"
          % (what, len(sent_files), len(received), same))
    return received


def nifti(source, prefix):
    r = run([image_data, "--of", "nifti", prefix, source], timeout=300)
    if r.returncode != 0:
        fail("image_data %s: exit %d: %s" % (source, r.returncode, r.text.strip()))
        return None
    made = glob.glob(prefix + "*.nii*")
    return nib.load(made[0]) if len(made) == 1 else None


def same_image(a, b, what):
    if a is None or b is None:
        return fail("%s: no NIfTI to compare" % what)
    va, vb = np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)
    check(va.shape == vb.shape and np.array_equal(va, vb) and
          np.allclose(a.affine, b.affine, atol=1e-6),
          "%s: equal (shape %s, affine, every voxel)" % (what, va.shape))


def refused(r, code, needles, what, limit):
    """Exit `code`, every needle in the output, within `limit` seconds."""
    ok = r.returncode == code and all(n in r.text for n in needles) and r.seconds < limit
    check(ok, "%s: exit %d in %.2f s: %s" % (what, r.returncode, r.seconds,
                                              r.text.strip().splitlines()[-1:] or ""))


try:
    probe = echo("dicom://127.0.0.1:9/X", ["--tls"], "1")
    if "this build has no TLS" in probe.text:
        print("SKIP: this build has no TLS (OpenSSL not found at build time)")
        sys.exit(77)
    make_certificates()
    time_files = files_of("time")

    # ---- 1. our client -> storescp +tls ----
    scp = Storescp("storescp")
    url = "dicom://127.0.0.1:%d/STORESCP" % scp.port
    r = echo(url, CLIENT + ["-v"])
    check(r.returncode == 0 and "TLSv1." in r.text,
          "dicom_echo --tls -> storescp +tls: exit %d (%s)" % (
              r.returncode, [l for l in r.text.splitlines() if "TLS" in l][:1]))
    r = run([image_data, "-v", "--calling_aet", "TLSTEST"] + CLIENT +
            [url, os.path.join(data, "time")], timeout=300)
    check(r.returncode == 0 and "9 sent, 0 warnings, 0 failed" in r.text,
          "image_data --tls -> storescp +tls: exit %d: %s" % (
              r.returncode, r.text.strip().splitlines()[-1:]))
    same_pixels(time_files, scp.files(), "image_data -> storescp over TLS")
    # storescp requires a client certificate (its default -rc).
    r = echo(url, ["--tls_ca", cert("ca.pem")])
    refused(r, 7, ["certificate"], "no client certificate -> storescp", 5)
    scp.stop()

    # ---- 2. the client refuses a server it cannot verify ----
    rogue = Storescp("rogue", "rogue.pem", "rogue.key")
    url = "dicom://127.0.0.1:%d/STORESCP" % rogue.port
    r = run([image_data] + CLIENT + [url, os.path.join(data, "time")], timeout=300)
    refused(r, 7, ["not verified", "TLS handshake failed"],
            "image_data -> a server certificate from another CA", 10)
    check(rogue.files() == [], "nothing reached the unverified server (%d files)"
          % len(rogue.files()))
    r = echo(url, CLIENT + ["--tls_verify", "false"])
    check(r.returncode == 0, "tls_verify=false accepts it (explicit request): exit %d: %s"
          % (r.returncode, r.text.strip()))
    rogue.stop()
    elsewhere = Storescp("elsewhere", "elsewhere.pem", "elsewhere.key")
    r = echo("dicom://localhost:%d/STORESCP" % elsewhere.port, CLIENT)
    refused(r, 7, ["not verified", "mismatch"], "a certificate for another host name", 5)
    elsewhere.stop()

    # ---- 3. dcmtk storescu +tls -> image_receive --tls ----
    rx = Receiver("recv")
    r = run(["echoscu", "-aec", "RECV"] + DCMTK_CLIENT + ["127.0.0.1", str(rx.port)],
            env=dcmtk_env)
    check(r.returncode == 0, "echoscu +tls -> image_receive --tls: exit %d %s"
          % (r.returncode, r.text.strip()))
    r = run(["storescu", "-aec", "RECV", "-aet", "STORESCU"] + DCMTK_CLIENT +
            ["127.0.0.1", str(rx.port)] + time_files, timeout=300, env=dcmtk_env)
    check(r.returncode == 0, "storescu +tls -> image_receive --tls: exit %d %s"
          % (r.returncode, r.text.strip()))
    received = same_datasets(time_files, os.path.join(rx.out, "dicom"),
                             "storescu -> receiver over TLS")
    check(rx.wait_log("(STORESCU) over TLSv1.") and
          "peer certificate CN=CLIENT1: released, 9 stored, 0 failed" in rx.text(),
          "the association is logged with TLS and the client's certificate")
    if check(rx.wait_log("converted 9 instances"), "the series was converted") and received:
        series_folder = os.path.dirname(next(iter(received.values())))
        relative = os.path.relpath(series_folder, os.path.join(rx.out, "dicom"))
        made = glob.glob(os.path.join(rx.out, relative) + "*.nii*")
        if len(made) != 1:
            fail("the receiver wrote %s" % made)
        else:
            mine = nib.load(made[0])
            same_image(mine, nifti(series_folder, os.path.join(work, "ref_received")),
                       "receiver's NIfTI vs image_data on the received folder")
            same_image(mine, nifti(os.path.join(data, "time"), os.path.join(work, "ref_source")),
                       "receiver's NIfTI vs image_data on the source folder")

    # ---- 4. our client -> our receiver ----
    rx2 = Receiver("recv_ours", extra=["--no_convert"])
    r = run([image_data, "--input_options", "keep_uid=true"] + CLIENT +
            [rx2.url, os.path.join(data, "time")], timeout=300)
    check(r.returncode == 0, "image_data --tls -> image_receive --tls: exit %d %s"
          % (r.returncode, r.text.strip().splitlines()[-1:]))
    same_pixels(time_files, glob.glob(os.path.join(rx2.out, "dicom", "**", "*.dcm"),
                                      recursive=True), "image_data -> receiver over TLS")
    rx2.stop()

    # ---- 5. bad cases at the receiver: each refuses one connection ----
    r = echo(rx.url, ["--tls_ca", cert("ca.pem")])
    # TLS 1.3: the alert "certificate required" may be lost to the closed
    # connection (the client's handshake ends first); either way it names
    # the certificate.
    refused(r, 7, ["certificate"], "a client without a certificate", 5)
    check(rx.wait_log("TLS handshake failed: peer did not return a certificate"),
          "the receiver logs the missing client certificate")
    r = echo(rx.url, ["--tls_ca", cert("ca.pem"), "--tls_cert", cert("rogue_client.pem"),
                      "--tls_key", cert("rogue_client.key")])
    # "tlsv1 alert unknown ca", or the same race as above.
    refused(r, 7, ["certificate"], "a client certificate from another CA", 5)
    check(rx.wait_log("TLS handshake failed: the peer's certificate was not verified"),
          "the receiver logs the unverified client certificate")
    r = echo(rx.url)
    refused(r, 7, ["the node expects TLS"], "a plain TCP client (dicom_echo) at the TLS port", 5)
    r = run(["echoscu", "-to", "5", "-aec", "RECV", "127.0.0.1", str(rx.port)], timeout=60,
            env=dcmtk_env)
    check(r.returncode != 0 and r.seconds < 5,
          "a plain TCP client (echoscu) at the TLS port: exit %d in %.2f s"
          % (r.returncode, r.seconds))
    check(rx.wait_log("wrong version number (does the peer speak TLS on this port?)", 2),
          "the receiver logs both plain clients")
    r = echo(rx.url, CLIENT)
    check(r.returncode == 0, "the receiver still serves after the refusals: exit %d"
          % r.returncode)
    plain = Receiver("plain", tls=False, extra=["--no_convert"])
    r = echo(plain.url, CLIENT)
    refused(r, 7, ["TLS handshake failed", "does the peer speak TLS"],
            "a TLS client (dicom_echo) at a plain receiver", 5)
    r = run(["echoscu", "-to", "5", "-aec", "RECV"] + DCMTK_CLIENT +
            ["127.0.0.1", str(plain.port)], timeout=60, env=dcmtk_env)
    check(r.returncode != 0 and r.seconds < 5,
          "a TLS client (echoscu) at a plain receiver: exit %d in %.2f s"
          % (r.returncode, r.seconds))
    check(plain.wait_log("a TLS record: the peer speaks TLS, this port does not", 2),
          "the plain receiver logs both TLS clients")
    r = echo(plain.url)
    check(r.returncode == 0, "the plain receiver still serves: exit %d" % r.returncode)
    check(plain.stop() == 0, "the plain receiver stops with 0")
    check(rx.stop() == 0, "the TLS receiver stops with 0")
    text = rx.text()
    print("receiver log:\n  " + "\n  ".join(text.strip().splitlines()))

    # ---- 6. bad configuration ----
    r = echo("dicom://127.0.0.1:9/X", ["--tls_cert", cert("server.pem"),
                                        "--tls_key", cert("client.key")])
    refused(r, 1, ["client.key", "does not match the certificate", "server.pem"],
            "client: a key that does not match the certificate", 5)
    r = echo("dicom://127.0.0.1:9/X", ["--tls_ca", cert("missing.pem")])
    refused(r, 1, ["missing.pem", "No such file"], "client: a missing tls_ca file", 5)
    r = echo("dicom://127.0.0.1:9/X", ["--tls_ca", cert("names.ext")])
    refused(r, 1, ["names.ext", "no usable PEM certificate"], "client: tls_ca not a PEM file", 5)
    r = run([image_receive, "--port", "0", "--tls_cert", cert("server.pem"), "--tls_key",
             cert("rogue_client.key"), os.path.join(work, "never")], timeout=30)
    refused(r, 1, ["rogue_client.key", "does not match"], "receiver: a mismatched key", 10)
    r = run([image_receive, "--port", "0", "--tls", os.path.join(work, "never")], timeout=30)
    refused(r, 1, ["--tls needs --tls_cert"], "receiver: --tls without a certificate", 10)

    # ---- 7. the BCP 195 profile ----
    rx3 = Receiver("recv_profile", extra=["--no_convert", "--association_timeout", "1"])
    # A peer that connects and never starts the handshake is cut at ARTIM.
    silent = socket.create_connection(("127.0.0.1", rx3.port))
    silent.settimeout(10)
    start = time.time()
    try:
        closed = silent.recv(100) == b""
    except OSError:
        closed = True
    silent.close()
    check(closed and time.time() - start < 3 and
          rx3.wait_log("timed out after 1000 ms in the TLS handshake"),
          "receiver: a silent peer is closed at the association timeout (%.2f s)"
          % (time.time() - start))

    def s_client(*args):
        return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % rx3.port,
                               "-CAfile", cert("ca.pem"), "-cert", cert("client.pem"),
                               "-key", cert("client.key")] + list(args),
                              input="", capture_output=True, text=True, timeout=30)

    r = s_client("-tls1_2")
    check("Protocol  : TLSv1.2" in r.stdout and "Cipher    : ECDHE-RSA-AES" in r.stdout and
          "GCM" in r.stdout, "receiver: TLS 1.2 with %s" % [
              l.strip() for l in r.stdout.splitlines() if l.strip().startswith("Cipher    :")])
    r = s_client("-tls1_1")
    check("Cipher is (NONE)" in r.stdout, "receiver: TLS 1.1 refused")
    r = s_client("-tls1_2", "-cipher", "AES128-SHA")
    check("Cipher is (NONE)" in r.stdout, "receiver: AES128-SHA (outside BCP 195) refused")
    check(rx3.wait_log("TLS 1.2 or later is required") and rx3.wait_log("no shared cipher"),
          "the receiver logs both refusals")
    check(rx3.stop() == 0, "the receiver stops with 0")

    def s_server(*args):
        port = free_port()
        p = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                              "-cert", cert("server.pem"), "-key", cert("server.key"),
                              "-quiet"] + list(args), stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(p)
        wait_port(port, p)
        return p, "dicom://127.0.0.1:%d/ANY" % port

    server, url = s_server("-tls1_2")
    # s_server answers no DICOM: the association times out after the handshake.
    r = echo(url, ["-v", "--tls_ca", cert("ca.pem")], "2")
    check("TLS: TLSv1.2 ECDHE-RSA-AES" in r.text and r.returncode == 7 and
          "timed out after 2000 ms" in r.text and r.seconds < 4,
          "client: TLS 1.2 to a 1.2-only server: %s" % [
              l for l in r.text.splitlines() if "TLS:" in l])
    server.kill()
    server, url = s_server("-tls1_2", "-cipher", "AES128-SHA")
    r = echo(url, ["--tls_ca", cert("ca.pem")], "2")
    refused(r, 7, ["TLS handshake failed", "handshake failure"],
            "client: a server with only AES128-SHA", 5)
    server.kill()
finally:
    for p in servers:
        if p.poll() is None:
            p.kill()
            p.wait()

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("all TLS checks passed")
