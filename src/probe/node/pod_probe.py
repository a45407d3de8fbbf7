# Probing from a pod's network namespace (imported by probe.py): one of the node's pod namespaces
# (pod_netns.pod_namespaces: linked to this node, holding an address in the pods' subnets) is entered
# with nsenter — nothing is created — and the same program runs there with the node's own python3, on
# the probe lines marked "P" (its initial ones on stdin, the streamed ones relayed to its fd 4).
# Its output is kept and printed after the node's, under its own markers.
import os
import socket
import struct
import sys
import time


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
def pod_kill(st, poller):
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
