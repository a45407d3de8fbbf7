// The probe program a node runs: it only sends the bytes the controller built and returns the
// bytes it got back (hex) with the time taken. Every path runs in parallel, its probes one after
// another, each bounded by the probe timeout. python3 where present (every Ansible-managed node
// has it), else bash's /dev/udp and /dev/tcp with coreutils.
import dnsPacket from 'dns-packet';
import type { ProbeResult } from '../types.js';
import type { ProbePath } from './paths.js';
import { shQuote } from '../transport/quote.js';
import { countersScript } from '../collect/counters.js';
import { isIP, isPort, parseCidr } from '../inventory/validate.js';
import { NO_PYTHON, parsePodSection, type PodOutcome } from './pod.js';

export interface ProbeOptions {
  count: number;
  timeoutMs: number;
  /** 'auto' (python3 when present, else bash) or force one; tests use 'bash' */
  runner?: 'auto' | 'bash' | 'python3';
  /** print these markers with the kernel counters (/proc/net/snmp, netstat) before and after the probes */
  markers?: { before: string; probes: string; after: string };
  /** first DNS id (the rest follow); random when not given. A replay passes the recorded one. */
  idSeed?: number;
  /** wait up to this long for more paths on fd 4 (extend()), ended by a line END; 0: none */
  lateWaitMs?: number;
  /** more files read with the counters (collect/counters.ts: counterFiles) */
  counterFiles?: { section: string; path: string }[];
  /** the pods' subnets (kube_pods_subnet): with them the python prober also reads the UDP/TCP
   *  counters of the node's pod network namespaces around the probes (see PY: pod_namespaces) */
  podSubnets?: string[];
  /** also probe from one of the node's pod network namespaces (needs markers and podSubnets; python3
   *  only): the same paths, encoded by a second encoder with its own ids, run by the same program
   *  started under nsenter in that namespace (see PY: spawn_pod). Decoded by decodePod(). */
  pod?: PodProbeOptions;
}

export interface PodProbeOptions {
  /** first DNS id of the pod side (a replay passes the recorded one) */
  idSeed?: number;
  /** the markers of the pod section and of the pod program's own counters and probes */
  markers: { section: string; before: string; probes: string; after: string };
  /** pod addresses to probe from when the node has them (pods created by --pod-probes create) */
  prefer?: string[];
}

// The counters of the node's pod network namespaces (python; needs os, socket, struct, errno):
// pod_namespaces() finds them, pod_counters() prints their Tcp/Udp counters as `@@podsnmp` sections.
const POD_PY = String.raw`
def nsid(pid):
    # the id this node's namespace has for another one (RTM_GETNSID with its ns file as NETNSA_FD):
    # >= 0 when they are linked (a veth peer's namespace), -1 when not, None when it cannot be told.
    # A query: nothing is entered, created or changed.
    try:
        fd = os.open("/proc/%s/ns/net" % pid, os.O_RDONLY)
    except OSError:
        return None
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        try:
            body = struct.pack("=Bxxx", 0) + struct.pack("=HHI", 8, 3, fd)
            s.send(struct.pack("=IHHII", 16 + len(body), 90, 1, 1, 0) + body)
            r = s.recv(4096)
        finally:
            s.close()
        n, t = struct.unpack_from("=IH", r, 0)
        off = 20
        while t == 88 and off + 8 <= n:
            a, k = struct.unpack_from("=HH", r, off)
            if k == 1:
                return struct.unpack_from("=i", r, off + 4)[0]
            off += max(4, (a + 3) & ~3)
    except (OSError, struct.error):
        pass
    finally:
        os.close(fd)
    return None
def ip_int(a):
    # an address as (family, integer, text); None when it is not one
    for fam, n in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            return (n, int.from_bytes(socket.inet_pton(fam, a), "big"), a)
        except (OSError, ValueError):
            pass
    return None
def in_nets(ip, nets):
    v, x, _ = ip
    bits = 32 if v == 4 else 128
    return any(v == nv and (x >> (bits - p)) == (n >> (bits - p)) for nv, n, p in nets)
def local_addrs(pid, nets):
    got = []
    try:
        last = None
        with open("/proc/%s/net/fib_trie" % pid) as f:
            for l in f:
                l = l.strip()
                if l.startswith("|-- "):
                    last = l[4:]
                elif last and l.endswith("host LOCAL"):
                    got.append(last)
    except OSError:
        pass
    try:
        with open("/proc/%s/net/if_inet6" % pid) as f:
            for l in f:
                h = l.split()[0] if l.split() else ""
                if len(h) == 32:
                    got.append(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(h)))
    except (OSError, ValueError):
        pass
    out = []
    for a in got:
        ip = ip_int(a)
        if ip and ip[2] not in out and in_nets(ip, nets):
            out.append(ip[2])
    return out
def pod_namespaces(subnets):
    # The pods' network namespaces on this node, read-only: every namespace other than ours that a
    # process under /proc is in, that this node's namespace has an id for (its veth peer's), and
    # that holds an address in the pods' subnets; one process each, whose /proc/<pid>/net/snmp is
    # that namespace's. A UDP datagram with a bad checksum is counted where it is received — in the
    # CoreDNS pod's namespace, not the node's.
    nets = []
    for x in subnets:
        a, _, p = x.partition("/")
        ip = ip_int(a)
        if ip and p.isdigit() and int(p) <= (32 if ip[0] == 4 else 128):
            nets.append((ip[0], ip[1], int(p)))
    try:
        own = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return []
    seen = set()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ino = os.stat("/proc/%s/ns/net" % d).st_ino
        except OSError:
            continue
        if ino == own or ino in seen:
            continue
        seen.add(ino)
        i = nsid(d)
        if i is not None and i < 0:
            continue
        addrs = local_addrs(d, nets)
        if addrs:
            found.append((d, ino, ",".join(addrs)))
    return found
def pod_counters(out, pods):
    out.append("@@value Netns.pods")
    out.append(str(len(pods)))
    out.append("@@rc 0")
    for pid, ino, addrs in pods:
        out.append("@@podsnmp " + addrs)
        try:
            if os.stat("/proc/%s/ns/net" % pid).st_ino != ino:
                raise OSError(errno.ESRCH, "the process left the namespace")
            with open("/proc/%s/net/snmp" % pid) as f:
                out.append("\n".join(l.rstrip("\n") for l in f if l.startswith(("Tcp:", "Udp:"))))
            out.append("@@rc 0")
        except OSError as e:
            out.append("cat: /proc/%s/net/snmp: %s" % (pid, e.strerror))
            out.append("@@rc 1")
`;

// Probing from a pod's network namespace (python; after POD_PY): one of the node's pod namespaces
// (pod_namespaces: linked to this node, holding an address in the pods' subnets) is entered with
// nsenter — nothing is created — and the same program runs there with the node's own python3, on
// the probe lines marked "P" (its initial ones on stdin, the streamed ones relayed to its fd 4).
// Its output is kept and printed after the node's, under its own markers.
const POD_PROBE_PY = String.raw`
def ns_names():
    # the names runtimes give network namespaces (containerd, CRI-O: /var/run/netns/cni-...), by
    # the namespace's inode
    names = {}
    for d in ("/var/run/netns", "/run/netns"):
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for n in entries:
            try:
                st = os.stat(os.path.join(d, n))
            except OSError:
                continue
            names.setdefault((st.st_dev, st.st_ino), (n, os.path.join(d, n)))
    return names
def route_dev(a):
    # the node's interface towards an IPv4 address: the longest match in /proc/net/route
    try:
        x = struct.unpack("=I", socket.inet_aton(a))[0]
        best = None
        with open("/proc/net/route") as f:
            next(f)
            for l in f:
                c = l.split()
                if len(c) < 8:
                    continue
                d, m = int(c[1], 16), int(c[7], 16)
                if x & m == d and (best is None or bin(m).count("1") > best[0]):
                    best = (bin(m).count("1"), c[0])
        return best[1] if best else "-"
    except (OSError, ValueError, StopIteration, struct.error):
        return "-"
def start_pod(spec, pods, lines, t, w):
    # spec: section marker, the pod program's three markers, preferred addresses
    st = {"spec": spec, "fd": None, "pid": None, "late": None, "buf": b"", "head": None, "note": None}
    if pods is None:
        st["head"] = "none the pods' subnets (kube_pods_subnet) are not known, so no pod namespace was looked for"
        return st
    if not pods:
        st["head"] = "none no pod network namespace on this node (no process in a namespace linked to it holding an address in the pods' subnets)"
        return st
    prefer = [x for x in (spec[4] if len(spec) > 4 else "").split(",") if x]
    try:
        dev = os.stat("/proc/self/ns/net").st_dev
    except OSError:
        dev = None
    names = ns_names()
    best = None
    for pid, ino, addrs in pods:
        al = addrs.split(",")
        nm = names.get((dev, ino))
        key = (0 if any(a in prefer for a in al) else 1, 0 if nm else 1, nm[0] if nm else "", int(pid))
        if best is None or key < best[0]:
            best = (key, pid, al, nm)
    _, pid, al, nm = best
    path = nm[1] if nm else "/proc/%s/ns/net" % pid
    st["head"] = "ns %s %s %s %s" % (nm[0] if nm else "-", pid, ",".join(al), route_dev(al[0]) if "." in al[0] else "-")
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        code = argv[argv.index(b"-c") + 1].decode()
    except (OSError, ValueError, IndexError):
        st["note"] = "the probe program could not read its own text (/proc/self/cmdline)"
        return st
    count = 1 + max([int(x.split()[1]) for x in lines if len(x.split()) == 6] or [0])
    cmd = [sys.executable or "python3", "-I", "-S", "-c", code, t, w, spec[1], spec[2], spec[3], "-", "-"]
    i_r, i_w = os.pipe()
    l_r, l_w = os.pipe()
    o_r, o_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.dup2(i_r, 0)
            os.dup2(o_w, 1)
            os.dup2(o_w, 2)
            os.dup2(l_r, 4)
            try:
                os.execvp("nsenter", ["nsenter", "--net=" + path, "--"] + cmd)
            except OSError:
                pass
            if nm:
                os.execvp("ip", ["ip", "netns", "exec", nm[0]] + cmd)
            os.write(2, b"neither nsenter nor ip netns exec could be started\n")
        finally:
            os._exit(127)
    for x in (i_r, l_r, o_w):
        os.close(x)
    os.set_blocking(o_r, False)
    st.update(fd=o_r, pid=child, late=l_w, until=time.monotonic() + float(w) / 1000.0 + float(t) / 1000.0 * count + 3.0)
    try:
        os.write(i_w, ("\n".join(lines) + "\n").encode())
    except OSError:
        pass
    os.close(i_w)
    return st
def pod_feed(st, line):
    if st.get("late") is not None:
        try:
            os.write(st["late"], (line + "\n").encode())
        except OSError:
            pass
def pod_end_late(st):
    if st.get("late") is not None:
        os.close(st["late"])
        st["late"] = None
def pod_read(st, poller):
    try:
        d = os.read(st["fd"], 65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        d = b""
    if d:
        st["buf"] += d
        return
    poller.unregister(st["fd"])
    os.close(st["fd"])
    st["fd"] = None
def pod_kill(st):
    if st.get("killed"):
        # killed and still not closed: give up on the rest of its output
        poller.unregister(st["fd"])
        os.close(st["fd"])
        st["fd"] = None
        return
    st["killed"] = True
    st["note"] = "stopped: it ran past its time"
    try:
        os.kill(st["pid"], 9)
    except OSError:
        pass
    # its output so far is kept; what is still in the pipe is read now
    st["until"] = time.monotonic() + 1.0
def pod_wait(st):
    pod_end_late(st)
    code = None
    if st.get("pid"):
        if st.get("fd") is not None:
            try:
                os.kill(st["pid"], 9)
            except OSError:
                pass
            os.close(st["fd"])
            st["fd"] = None
        try:
            _, status = os.waitpid(st["pid"], 0)
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        except OSError:
            pass
    lines = [st["spec"][0], st["head"]]
    if st.get("pid"):
        lines.append("exit %s" % ("-" if code is None else code))
    if st.get("note"):
        lines.append("note " + st["note"])
    if st["buf"]:
        lines.append(st["buf"].decode("utf-8", "replace").rstrip("\n"))
    return lines
`;

// One thread, non-blocking sockets and poll(): every path's current probe is in flight at once, a
// path's next probe starts when its last one ends. With markers (argv 2..4) it also reads the kernel
// counters right before and after the probes, so the node starts no other process for them.
const PY = String.raw`
import socket, sys, time, errno, select, os, struct
${POD_PY}
${POD_PROBE_PY}
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
def counters(mark):
    out.append(mark)
    for head, path in [("@@snmp", "/proc/net/snmp"), ("@@netstat", "/proc/net/netstat")] + extra:
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
jobs = {}
pod_lines = []
def add(line):
    f = line.split()
    if len(f) == 7 and f[0] == "P":
        # a probe for the program in the pod's namespace
        pod_lines.append(" ".join(f[1:]))
        return None
    if len(f) == 6:
        jobs.setdefault(int(f[0]), [f[2], int(f[3]), f[4], []])[3].append(bytes.fromhex(f[5]))
        return int(f[0])
    return None
for line in sys.stdin.read().split("\n"):
    add(line)
POLLIN, POLLOUT, POLLERR = select.POLLIN, select.POLLOUT, select.POLLERR | select.POLLHUP
poller = select.poll()
live = {}
linger = []
res = []
def start(p, k):
    ip, port, proto, qs = jobs[p]
    if k >= len(qs):
        return
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
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
    if err is None:
        res.append("R %d %d %.3f %s" % (st["p"], st["k"], (time.monotonic() - st["t0"]) * 1000.0, data.hex()))
    else:
        res.append("E %d %d %s" % (st["p"], st["k"], err))
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
# the same probes from a pod's network namespace: a second program, started now, its output kept
pod = None
pod_out = []
if podspec is not None:
    pod = start_pod(podspec, pods, pod_lines, sys.argv[1], sys.argv[2])
    if pod.get("fd") is not None:
        poller.register(pod["fd"], POLLIN | POLLERR)
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
        if line.startswith("P "):
            if pod is not None:
                pod_feed(pod, line[2:])
            continue
        known = set(jobs)
        p = add(line)
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
        pod_kill(pod)
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
out.extend(res)
out.append("DONE")
# the pod program has ended (or was stopped): the node's counters after it include its traffic
pod_done = pod_wait(pod) if pod is not None else None
if marks:
    counters(marks[2])
if pod_done is not None:
    out.extend(pod_done)
sys.stdout.write("\n".join(out) + "\n")
`;

// bash fallback: one background job per path; `timeout` bounds each probe. A UDP query must leave
// in one write (one datagram): bash's printf may flush at a newline byte, so dd gathers it first.
const SH = String.raw`
T=$1 W=$2
ms() { s=$(date +%s%N); echo $((s/1000000)); }
probe() {
  p=$1 k=$2 ip=$3 port=$4 proto=$5 hex=$6
  t0=$(date +%s%N)
  bytes=$(printf '%s' "$hex" | sed 's/../\\x&/g')
  if [ "$proto" = udp ]; then
    out=$(timeout "$(awk "BEGIN{print $T/1000}")" bash -c 'exec 3<>"/dev/udp/$0/$1" || exit 3; printf "$2" | dd bs=65535 iflag=fullblock count=1 2>/dev/null >&3; dd bs=65535 count=1 <&3 2>/dev/null | od -An -v -tx1' "$ip" "$port" "$bytes" 2>/dev/null | tr -d ' \n')
  else
    len=$(( %{#hex} / 2 )); pre=$(printf '\\x%02x\\x%02x' $((len>>8)) $((len&255)))
    out=$(timeout "$(awk "BEGIN{print $T/1000}")" bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 3; printf "$2$3" >&3; h=$(dd bs=1 count=2 <&3 2>/dev/null | od -An -v -tu1); set -- $h; [ $# -eq 2 ] || exit 4; n=$(( $1 * 256 + $2 )); dd bs=$n count=1 iflag=fullblock <&3 2>/dev/null | od -An -v -tx1' "$ip" "$port" "$pre" "$bytes" 2>/dev/null | tr -d ' \n')
  fi
  t1=$(date +%s%N)
  if [ -n "$out" ]; then echo "R $p $k $(( (t1-t0)/1000 )) $out" | awk '{printf "R %s %s %.3f %s\n", $2, $3, $4/1000, $5}'; else echo "E $p $k timeout"; fi
}
queue() {
  # lines marked P are for the program in a pod's namespace (python3 only)
  [ "$1" != P ] || return 0
  [ -n "$6" ] || return 0
  eval "Q_$1=\"\%{Q_$1} $2:$3:$4:$5:$6\""
  case " $PATHS $NEW " in *" $1 "*) ;; *) NEW="$NEW $1";; esac
}
launch() {
  for p in $NEW; do
    ( eval "list=\$Q_$p"; for item in $list; do IFS=: read -r k ip port proto hex <<EOF_ITEM
$item
EOF_ITEM
        probe "$p" "$k" "$ip" "$port" "$proto" "$hex"; done ) &
  done
  PATHS="$PATHS $NEW"; NEW=
}
while read -r p k ip port proto hex; do queue "$p" "$k" "$ip" "$port" "$proto" "$hex"; done
launch
# more paths may stream in on fd 4, ended by END; W (ms) bounds the wait
if [ "$W" -gt 0 ] 2>/dev/null; then
  end=$(( $(date +%s) + (W + 999) / 1000 ))
  while left=$(( end - $(date +%s) )); [ "$left" -gt 0 ] && IFS= read -r -t "$left" line <&4; do
    [ "$line" = END ] && break
    queue $line
  done
  launch
fi
wait
echo DONE
`.replace(/%\{/g, '${');

/** The pod namespaces' counters read once more, as a command of their own (python3 only): a node's
 *  own window closes when its probes end, while another node's queries to its CoreDNS pod may still
 *  be arriving (run/recount.ts). Read-only, like the probe program's. */
export function podCountersScript(podSubnets: string[]): string {
  const subnets = podSubnets
    .map((x) => parseCidr(x))
    .filter((x) => x !== null)
    .map((x) => `${x.address}/${x.prefix}`);
  const py = `import socket, sys, errno, os, struct\n${POD_PY}\nout = []\npods = pod_namespaces(sys.argv[1].split(","))\nif pods is not None:\n    pod_counters(out, pods)\nsys.stdout.write("\\n".join(out) + "\\n")\n`;
  return `python3 -I -S -c ${shQuote(py)} ${shQuote(subnets.join(',') || '-')}`;
}

interface Sent {
  path: number;
  probe: number;
  id: number;
}

export interface ProbeProgram {
  script: string;
  /** Paths found while the program runs (lateWaitMs > 0): the lines to write to its fd 4, END included. */
  extend(paths: ProbePath[]): string;
  decode(host: string, stdout: string): ProbeResult[];
  /** The pod side's section of the output (from its section marker on; see probe/pod.ts). */
  decodePod(host: string, section: string): PodOutcome;
}

function pct(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 100) / 100;
}

/** Outcome of one reply: ok (NOERROR with answers), a named rcode, or a reason it does not count. */
export function judgeReply(
  bytes: Buffer,
  id: number,
  name: string,
  type: string,
): { answered: boolean; rcode?: string; good?: boolean; error?: string } {
  let msg: dnsPacket.Packet;
  try {
    msg = dnsPacket.decode(bytes);
  } catch {
    return { answered: false, error: 'garbage' };
  }
  if (msg.id !== id) return { answered: false, error: 'bad-id' };
  if (msg.type !== 'response') return { answered: false, error: 'not-a-response' };
  const q = msg.questions?.[0];
  if (!q || q.name.toLowerCase().replace(/\.$/, '') !== name.toLowerCase() || q.type !== type)
    return { answered: false, error: 'bad-question' };
  const flags = msg.flags ?? 0;
  if (flags & 0x0200) return { answered: false, error: 'truncated' };
  const rcode = (msg as { rcode?: string }).rcode ?? 'NOERROR';
  const answers = (msg.answers ?? []).filter((a) => a.type === type || a.type === 'CNAME');
  return { answered: true, rcode, good: rcode === 'NOERROR' && answers.length > 0 };
}

/** One set of probes: the paths, the ids sent, the lines the program reads, and their decoding. */
function encoder(count: number, idSeed: number | undefined) {
  const paths: ProbePath[] = [];
  const sent: Sent[] = [];
  let nextId = (idSeed ?? Math.random() * 0xffff) & 0xffff;
  const encode = (list: ProbePath[]): string[] => {
    const lines: string[] = [];
    for (const p of list) {
      if (!isIP(p.server) || !isPort(p.port)) throw new Error(`refusing to probe ${p.server}:${p.port}`);
      const i = paths.push(p) - 1;
      for (let k = 0; k < count; k++) {
        const id = (nextId = (nextId + 1) & 0xffff);
        const q = dnsPacket.encode({
          type: 'query',
          id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: p.type, name: p.name, class: 'IN' }],
        });
        sent.push({ path: i, probe: k, id });
        lines.push(`${i} ${k} ${p.server} ${p.port} ${p.transport} ${q.toString('hex')}`);
      }
    }
    return lines;
  };
  const decode = (host: string, stdout: string, from: 'host' | 'pod' = 'host'): ProbeResult[] => {
    const bySlot = new Map(sent.map((x) => [`${x.path}:${x.probe}`, x]));
    const results: ProbeResult[] = paths.map((p) => ({
      host,
      server: p.server,
      role: p.role,
      transport: p.transport,
      name: p.name,
      type: p.type,
      sent: count,
      answered: 0,
      rcodes: {},
      latencyMs: { p50: null, max: null },
      errors: {},
      endpointHost: p.endpointHost,
      ok: 0,
      internal: p.internal,
      from,
    }));
    const lat: number[][] = paths.map(() => []);
    const seen = new Set<string>();
    for (const line of stdout.split('\n')) {
      const f = line.trim().split(/\s+/);
      if ((f[0] !== 'R' && f[0] !== 'E') || f.length < 4) continue;
      const pi = Number(f[1]);
      const k = Number(f[2]);
      const s = bySlot.get(`${pi}:${k}`);
      const r = results[pi];
      if (!s || !r || seen.has(`${pi}:${k}`)) continue;
      seen.add(`${pi}:${k}`);
      const bump = (e: string) => (r.errors![e] = (r.errors![e] ?? 0) + 1);
      if (f[0] === 'E') {
        bump(/^[a-z0-9-]{1,20}$/.test(f[3]!) ? f[3]! : 'error');
        continue;
      }
      const ms = Number(f[3]);
      const hex = f[4] ?? '';
      if (!/^([0-9a-f]{2})*$/.test(hex) || !hex) {
        bump('garbage');
        continue;
      }
      const j = judgeReply(Buffer.from(hex, 'hex'), s.id, paths[pi]!.name, paths[pi]!.type);
      if (!j.answered) {
        bump(j.error ?? 'garbage');
        continue;
      }
      r.answered++;
      r.rcodes[j.rcode!] = (r.rcodes[j.rcode!] ?? 0) + 1;
      if (j.good) r.ok = (r.ok ?? 0) + 1;
      else if (j.rcode === 'NOERROR') bump('empty-answer');
      if (Number.isFinite(ms)) lat[pi]!.push(ms);
    }
    results.forEach((r, i) => {
      const missing = r.sent - r.answered - Object.values(r.errors!).reduce((a, b) => a + b, 0);
      if (missing > 0) r.errors!['no-result'] = missing;
      const l = lat[i]!.sort((a, b) => a - b);
      r.latencyMs = { p50: pct(l, 50), max: l.length ? Math.round(l[l.length - 1]! * 100) / 100 : null };
    });
    return results;
  };
  return { encode, decode };
}

export function probeScript(initial: ProbePath[], o: ProbeOptions): ProbeProgram {
  const own = encoder(o.count, o.idSeed);
  const m = o.markers;
  // the pod side needs the markers (its output is cut out of the node's by them)
  const pod = o.pod && m ? encoder(o.count, o.pod.idSeed) : null;
  const lines = [...own.encode(initial), ...(pod ? pod.encode(initial).map((l) => `P ${l}`) : [])];
  // the pod's lines first: the node's program stops relaying at END
  const extend = (more: ProbePath[]) =>
    [...(pod ? pod.encode(more).map((l) => `P ${l}`) : []), ...own.encode(more), 'END'].join('\n') + '\n';
  const input = lines.join('\n');
  const t = `${o.timeoutMs} ${Math.max(0, Math.round(o.lateWaitMs ?? 0))}`;
  const runner = o.runner ?? 'auto';
  const pyTest = runner === 'bash' ? 'false' : runner === 'python3' ? 'true' : 'command -v python3 >/dev/null 2>&1';
  const files = o.counterFiles ?? [];
  const subnets = (o.podSubnets ?? [])
    .map((x) => parseCidr(x))
    .filter((x) => x !== null)
    .map((x) => `${x.address}/${x.prefix}`);
  const pm = pod ? o.pod!.markers : null;
  const prefer = (o.pod?.prefer ?? []).filter((x) => isIP(x));
  const podSpec = pm ? [pm.section, pm.before, pm.probes, pm.after, prefer.join(',')].join('|') : '-';
  const marks = m
    ? ` ${shQuote(m.before)} ${shQuote(m.probes)} ${shQuote(m.after)} ${shQuote(subnets.join(',') || '-')} ${shQuote(podSpec)}${files.map((f) => ` ${shQuote(`@@${f.section}`)} ${shQuote(f.path)}`).join('')}`
    : '';
  const shCounters = countersScript(files);
  const script = [
    `if ${pyTest}; then python3 -I -S -c ${shQuote(PY)} ${t}${marks} 4<&0 <<'KSV_PROBES'`,
    input,
    'KSV_PROBES',
    'else',
    ...(m ? [`echo ${shQuote(m.before)}`, shCounters, `echo ${shQuote(m.probes)}`] : []),
    `bash -c ${shQuote(SH)} probe ${t} 4<&0 <<'KSV_PROBES'`,
    input,
    'KSV_PROBES',
    ...(m ? [`echo ${shQuote(m.after)}`, shCounters] : []),
    ...(pm ? [`echo ${shQuote(pm.section)}`, `echo ${shQuote(`none ${NO_PYTHON}`)}`] : []),
    'fi',
  ].join('\n');
  const decodePod = (host: string, section: string): PodOutcome =>
    parsePodSection(host, section, pm, (h, out) => (pod ? pod.decode(h, out, 'pod') : []));
  return { script, extend, decode: (host, stdout) => own.decode(host, stdout), decodePod };
}
