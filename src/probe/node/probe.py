# The probe program a node runs (python3 -I -S -c, the probe lines on stdin): it only sends the
# bytes the controller built and returns the bytes it got back (hex) with the time taken. One
# thread, non-blocking sockets and poll(): every path's current probe is in flight at once, a
# path's next probe starts when its last one ends, each bounded by the probe timeout.
# argv: the probe timeout (ms), how long to wait for more paths on fd 4 (ms), then optionally the
# three counter markers (before, probes, after), the pods' subnets, the pod side and pairs of a
# section header and a file path. With markers it also reads the kernel counters right before and
# after the probes, so the node starts no other process for them.
# A line `from <module> import ...` of a module beside this file is replaced by that module's text
# when the program is assembled (scripts/gen-registry.mjs), so the node gets one self-contained text.
import errno
import os
import select
# the C module: the `socket` package imports enum and selectors, a third of the interpreter's start
import _socket as socket
import sys
import time

from pod_netns import pod_counters, pod_namespaces
from pod_probe import in_pod, pod_end_late, pod_feed, pod_kill, pod_read, pod_wait, start_pod

T = float(sys.argv[1]) / 1000.0
W = float(sys.argv[2]) / 1000.0
marks = sys.argv[3:6]
# the pods' subnets ("-": none), the pod side ("-": none; else its markers and preferred addresses,
# "|"-separated), then more files read with the counters: pairs of a section header and a path
subnets = sys.argv[6].split(",") if len(sys.argv) > 6 and sys.argv[6] != "-" else []
podspec = sys.argv[7].split("|") if len(sys.argv) > 7 and sys.argv[7] != "-" else None
extra = list(zip(sys.argv[8::2], sys.argv[9::2]))
out = []
pods = pod_namespaces(subnets) if marks and subnets else None
def counters(mark, out=out, net="/proc/net", extra=extra, pods=pods):
    out.append(mark)
    for head, path in [("@@snmp", net + "/snmp"), ("@@netstat", net + "/netstat")] + extra:
        out.append(head)
        try:
            with open(path) as f:
                out.append(f.read().rstrip("\n"))
            out.append("@@rc 0")
        except OSError as e:
            out.append("cat: %s: %s" % (path, e.strerror))
            out.append("@@rc 1")
    if pods is not None:
        pod_counters(out, pods)
# a path is (side, number): side 0 the node's, 1 the pod side's when it runs in this process
jobs = {}
pod_lines = []
def add(line, side=0):
    f = line.split()
    if len(f) == 7 and f[0] == "P":
        # a probe for the pod side
        pod_lines.append(" ".join(f[1:]))
        return None
    if len(f) == 6:
        jobs.setdefault((side, int(f[0])), [f[2], int(f[3]), f[4], []])[3].append(bytes.fromhex(f[5]))
        return (side, int(f[0]))
    return None
for line in sys.stdin.read().split("\n"):
    add(line)
POLLIN, POLLOUT, POLLERR = select.POLLIN, select.POLLOUT, select.POLLERR | select.POLLHUP
poller = select.poll()
live = {}
linger = []
res = {0: [], 1: []}
def start(p, k):
    ip, port, proto, qs = jobs[p]
    if k >= len(qs):
        return
    t0 = time.monotonic()
    def make():
        return socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    s = in_pod(pod, make) if p[0] == 1 else make()
    s.setblocking(False)
    st = {"p": p, "k": k, "s": s, "t0": t0, "tcp": proto == "tcp", "buf": b"", "need": None}
    q = qs[k]
    try:
        if proto == "udp":
            s.connect((ip, port))
            s.send(q)
            st["ev"] = POLLIN
        else:
            st["out"] = len(q).to_bytes(2, "big") + q
            r = s.connect_ex((ip, port))
            if r not in (0, errno.EINPROGRESS):
                raise OSError(r, "connect")
            st["ev"] = POLLOUT
    except OSError as e:
        return finish(st, fail(e))
    live[s.fileno()] = st
    poller.register(s, st["ev"] | POLLERR)
def fail(e):
    if isinstance(e, ConnectionRefusedError) or e.errno == errno.ECONNREFUSED:
        return "refused"
    if isinstance(e, ConnectionResetError) or e.errno == errno.ECONNRESET:
        return "reset"
    return errno.errorcode.get(e.errno, "oserror").lower()
def finish(st, err=None, data=None, keep=False):
    s = st["s"]
    fd = s.fileno()
    if fd in live:
        del live[fd]
        poller.unregister(fd)
    side, n = st["p"]
    if err is None:
        res[side].append("R %d %d %.3f %s" % (n, st["k"], (time.monotonic() - st["t0"]) * 1000.0, data.hex()))
    else:
        res[side].append("E %d %d %s" % (n, st["k"], err))
    if keep:
        # an unanswered TCP connection stays open until the SYN/segment was retransmitted once
        # (initial RTO 1 s), so the kernel's retransmission counters see the loss
        linger.append((st["t0"], s))
    else:
        s.close()
    start(st["p"], st["k"] + 1)
def step(st, ev):
    s = st["s"]
    try:
        if not st["tcp"]:
            return finish(st, data=s.recv(65535))
        if st["ev"] == POLLOUT:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                raise OSError(e, "connect")
            n = s.send(st["out"])
            st["out"] = st["out"][n:]
            if not st["out"]:
                st["ev"] = POLLIN
                poller.modify(s, POLLIN | POLLERR)
            return
        d = s.recv(65535)
        if not d:
            return finish(st, "closed")
        st["buf"] += d
        b = st["buf"]
        if len(b) >= 2 and len(b) >= 2 + int.from_bytes(b[:2], "big"):
            return finish(st, data=b[2:2 + int.from_bytes(b[:2], "big")])
    except (BlockingIOError, InterruptedError):
        return
    except OSError as e:
        return finish(st, fail(e))
if marks:
    counters(marks[0])
    out.append(marks[1])
# the same probes from a pod's network namespace: from this process (its sockets made there), or
# a second program under nsenter, started now, its output kept
pod = None
if podspec is not None:
    pod = start_pod(podspec, pods, pod_lines, sys.argv[1], sys.argv[2])
    if pod.get("fd") is not None:
        poller.register(pod["fd"], POLLIN | POLLERR)
def pod_here():
    return pod is not None and pod.get("ns") is not None
if pod_here():
    pod["out"] = []
    counters(podspec[1], out=pod["out"], net="/proc/%s/net" % pod["podpid"], extra=[], pods=None)
    pod["out"].append(podspec[2])
    for line in pod_lines:
        add(line, 1)
for p in sorted(jobs):
    start(p, 0)
# more paths may stream in on fd 4 (the CoreDNS endpoints, found while the first probes run),
# ended by a line END; W bounds the wait
late = W > 0
late_until = time.monotonic() + W
late_buf = b""
fresh = []
if late:
    try:
        os.set_blocking(4, False)
        poller.register(4, POLLIN | POLLERR)
    except OSError:
        late = False
def stop_late():
    global late
    late = False
    try:
        poller.unregister(4)
    except (KeyError, ValueError, OSError):
        pass
    if pod is not None:
        pod_end_late(pod)
    for p in fresh:
        start(p, 0)
    del fresh[:]
def feed():
    global late_buf
    try:
        d = os.read(4, 65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        d = b""
    if not d:
        return stop_late()
    late_buf += d
    while b"\n" in late_buf:
        line, late_buf = late_buf.split(b"\n", 1)
        line = line.decode("ascii", "replace").strip()
        if line == "END":
            return stop_late()
        side = 0
        if line.startswith("P "):
            if not pod_here():
                if pod is not None:
                    pod_feed(pod, line[2:])
                continue
            side, line = 1, line[2:]
        known = set(jobs)
        p = add(line, side)
        if p is not None and p not in known:
            fresh.append(p)
if not late and pod is not None:
    pod_end_late(pod)
def pod_open():
    return pod is not None and pod.get("fd") is not None
while live or late or pod_open():
    now = time.monotonic()
    if late and now >= late_until:
        stop_late()
    for st in [x for x in live.values() if now - x["t0"] >= T]:
        finish(st, "timeout", keep=st["tcp"])
    if pod_open() and now >= pod["until"]:
        pod_kill(pod, poller)
    if not live and not late and not pod_open():
        break
    ends = [x["t0"] + T for x in live.values()] + ([late_until] if late else []) + ([pod["until"]] if pod_open() else [])
    wait = min(ends) - time.monotonic()
    for fd, ev in poller.poll(max(0, int(wait * 1000) + 1)):
        if fd == 4 and late:
            feed()
            continue
        if pod_open() and fd == pod["fd"]:
            pod_read(pod, poller)
            continue
        st = live.get(fd)
        if st is not None:
            step(st, ev)
if linger:
    left = min(t0 for t0, _ in linger) + 1.25 - time.monotonic()
    if left > 0:
        time.sleep(left)
    for _, s in linger:
        s.close()
out.extend(res[0])
out.append("DONE")
if pod_here():
    pod["out"].extend(res[1])
    pod["out"].append("DONE")
    counters(podspec[3], out=pod["out"], net="/proc/%s/net" % pod["podpid"], extra=[], pods=None)
# the pod program has ended (or was stopped): the node's counters after it include its traffic
pod_done = pod_wait(pod) if pod is not None else None
if marks:
    counters(marks[2])
if pod_done is not None:
    out.extend(pod_done)
sys.stdout.write("\n".join(out) + "\n")
