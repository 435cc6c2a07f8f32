#!/usr/bin/python3
"""The DICOM network, ours against dcmtk's command-line tools, in one run
(issue 17 item 5; docs/network.md).

Workload: a generated 4D MR series (bench/dicom_read.py's generate(); by
default 30 x 60 = 1,800 single-frame files of 192 x 192 uint16, Explicit VR
LE), on loopback.

  C-STORE  to dcmtk's storescp --ignore (it receives every data set and
           stores nothing: the receiver's disk is out of the measurement):
             ours:   image_data dicom://127.0.0.1:P/STORESCP FOLDER
                     (reads and sorts the series, makes each instance again
                     with its own UIDs, sends them on one association)
             dcmtk:  storescu -aec STORESCP 127.0.0.1 P +sd FOLDER
                     (sends each file as it is on one association)
  C-GET    from dcmtk's dcmqrscp holding the series (stored there once by
           storescu, not timed):
             ours:   image_info --headers_only dicom://.../patient/study/series
                     (C-FIND study and series, C-GET into memory, the DICOM
                     reader parses every header and sorts)
             dcmtk:  getscu -aec QRSCP 127.0.0.1 P -k QueryRetrieveLevel=SERIES
                     -k StudyInstanceUID=.. -k SeriesInstanceUID=.. -od DIR
                     (writes every instance to DIR)

Median wall time of --runs runs each, files/s and MB/s (the files' bytes),
the ratio dcmtk time / our time (above 1: we are faster), and the 1-minute
load average before and after. Writes bench/results/network.md (or --out).

usage: bench/network.py BUILD_DIR [--runs 3] [--times 30] [--slices 60]
                        [--size 192] [--scratch DIR] [--out FILE]
"""
import argparse, glob, os, shutil, socket, statistics, subprocess, sys, tempfile, time

# dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set in its
# environment: its peers then answer each message about 40 ms late (the
# other side's delayed ACK), which makes every tool, ours and dcmtk's, run at
# ~23 files/s on loopback (measured: 100 files 4.4 s without, 0.04 s with).
# Our sockets set TCP_NODELAY themselves; the dcmtk servers and clients get
# it here so that the tools, not the peer's socket options, are compared.
os.environ["TCP_NODELAY"] = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_read import generate           # noqa: E402  (pydicom + numpy)
import pydicom                            # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server on port %d did not start" % port)


def timed(command, check=None):
    started = time.perf_counter()
    p = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if p.returncode != 0:
        raise SystemExit("%s failed (exit %d): %s" % (" ".join(command), p.returncode,
                                                       p.stderr[-500:]))
    if check is not None:
        check(p)
    return elapsed


def median_of(runs, command, before=None, check=None):
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        times.append(timed(command, check))
    return statistics.median(times), times


def stop(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--scratch", default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "network.md"))
    args = parser.parse_args()
    for tool in ("storescp", "storescu", "dcmqrscp", "getscu"):
        if shutil.which(tool) is None:
            raise SystemExit("%s (dcmtk) is not installed" % tool)
    image_data = os.path.join(args.build, "cli", "image_data")
    image_info = os.path.join(args.build, "cli", "image_info")
    scratch = tempfile.mkdtemp(prefix="imd-bench-net.", dir=args.scratch)
    load_before = os.getloadavg()[0]
    rows = []
    try:
        folder = os.path.join(scratch, "series")
        os.makedirs(folder)
        generate(folder, args.times, args.slices, args.size)
        files = sorted(glob.glob(os.path.join(folder, "**", "*.dcm"), recursive=True))
        count = len(files)
        megabytes = sum(os.path.getsize(f) for f in files) / 1e6
        first = pydicom.dcmread(files[0], stop_before_pixels=True)

        # ---- C-STORE ----
        port = free_port()
        log = open(os.path.join(scratch, "storescp.log"), "w")
        server = subprocess.Popen(["storescp", "--aetitle", "STORESCP", "--ignore", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            url = "dicom://127.0.0.1:%d/STORESCP" % port

            def sent_all(p):
                if "%d sent, 0 warnings, 0 failed" % count not in p.stderr:
                    raise SystemExit("image_data did not send %d: %s" % (count, p.stderr[-300:]))
            ours, ours_runs = median_of(args.runs, [image_data, url, folder], check=sent_all)
            theirs, theirs_runs = median_of(args.runs, ["storescu", "-aec", "STORESCP",
                                                        "127.0.0.1", str(port), "+sd", folder])
            rows.append(("C-STORE to storescp", "image_data", "storescu", ours, theirs,
                         ours_runs, theirs_runs))
        finally:
            stop(server)
            log.close()

        # ---- C-GET ----
        port = free_port()
        db = os.path.join(scratch, "db")
        os.mkdir(db)
        config = os.path.join(scratch, "dcmqrscp.cfg")
        with open(config, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = 65536\nMaxAssociations = 4\n"
                    "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                    "AETable BEGIN\nQRSCP %s RW (%d, 4096mb) ANY\nAETable END\n"
                    % (port, db, count + 100))
        log = open(os.path.join(scratch, "dcmqrscp.log"), "w")
        server = subprocess.Popen(["dcmqrscp", "-c", config], stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            timed(["storescu", "-aec", "QRSCP", "127.0.0.1", str(port), "+sd", folder])
            url = "dicom://127.0.0.1:%d/QRSCP/%s/%s/%s" % (port, first.PatientID,
                                                           first.StudyInstanceUID,
                                                           first.SeriesInstanceUID)
            ours, ours_runs = median_of(args.runs, [image_info, "--headers_only", url])
            out = os.path.join(scratch, "getscu")

            def fresh():
                shutil.rmtree(out, ignore_errors=True)
                os.mkdir(out)

            def got_all(p):
                n = len(os.listdir(out))
                if n != count:
                    raise SystemExit("getscu wrote %d files, %d expected" % (n, count))
            theirs, theirs_runs = median_of(
                args.runs, ["getscu", "-aec", "QRSCP", "127.0.0.1", str(port), "-S",
                            "-k", "QueryRetrieveLevel=SERIES",
                            "-k", "StudyInstanceUID=%s" % first.StudyInstanceUID,
                            "-k", "SeriesInstanceUID=%s" % first.SeriesInstanceUID,
                            "-od", out], before=fresh, check=got_all)
            rows.append(("C-GET from dcmqrscp", "image_info --headers_only", "getscu", ours,
                         theirs, ours_runs, theirs_runs))
        finally:
            stop(server)
            log.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()[0]
    lines = ["# DICOM network: imagedata against dcmtk (bench/network.py)", "",
             "%d files of %dx%d uint16 (%.1f MB), loopback; median of %d runs; load average "
             "(1 min) %.2f before, %.2f after; %d cores." % (count, args.size, args.size, megabytes,
                                                            args.runs, load_before, load_after,
                                                            os.cpu_count()), "",
             "| operation | ours | s | files/s | MB/s | dcmtk | s | files/s | MB/s | "
             "dcmtk s / our s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for what, us, them, ours, theirs, ours_runs, theirs_runs in rows:
        lines.append("| %s | %s | %.2f | %.0f | %.1f | %s | %.2f | %.0f | %.1f | %.2f |" % (
            what, us, ours, count / ours, megabytes / ours, them, theirs, count / theirs,
            megabytes / theirs, theirs / ours))
    lines += ["", "Runs (s): " + "; ".join(
        "%s: ours %s, dcmtk %s" % (r[0], ", ".join("%.2f" % t for t in r[5]),
                                   ", ".join("%.2f" % t for t in r[6])) for r in rows), ""]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
