# Probing from a pod's network namespace (imported by probe.py): one of the node's pod namespaces
# (pod_netns.pod_namespaces: linked to this node, holding an address in the pods' subnets) is used
# from this same process where the kernel allows: setns(2) into it (libc's, through ctypes) only to
# open the pod side's sockets — a socket stays in the namespace it was made in — and straight back.
# Nothing is created. Where setns fails, the same program runs in the namespace under nsenter on
# the probe lines marked "P" (its initial ones on stdin, the streamed ones relayed to its fd 4), and
# the section says so. Either way the pod side prints under its own markers after the node's.
import os
# the C module: the `socket` package imports enum and selectors, a third of the interpreter's start
import _socket as socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000


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
def libc_setns():
    # setns(2) from libc (os.setns is python >= 3.12); None where it cannot be reached
    try:
        import ctypes
        f = ctypes.CDLL(None, use_errno=True).setns
    except (ImportError, OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_int, ctypes.c_int]
    def setns(fd):
        if f(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    return setns
def enter(path):
    # (setns, the pod namespace's fd, ours) after proving we can go there and back; else the reason
    setns = libc_setns()
    if setns is None:
        return None, "libc's setns cannot be reached (ctypes)"
    own = pod = None
    try:
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        pod = os.open(path, os.O_RDONLY)
        setns(pod)
    except OSError as e:
        for fd in (own, pod):
            if fd is not None:
                os.close(fd)
        return None, "setns: %s" % (e.strerror or e)
    # back home; should that ever fail, nothing this process does after is the node's
    try:
        setns(own)
    except OSError as e:
        sys.stdout.write("cannot return to the node's network namespace after setns: %s\n" % e.strerror)
        os._exit(3)
    return (setns, pod, own), None
def in_pod(st, make):
    # make() run inside the pod's namespace (a socket made there stays there), then back
    setns, pod, own = st["ns"]
    setns(pod)
    try:
        return make()
    finally:
        try:
            setns(own)
        except OSError as e:
            sys.stdout.write("cannot return to the node's network namespace after setns: %s\n" % e.strerror)
            os._exit(3)
def start_pod(spec, pods, lines, t, w):
    # spec: section marker, the pod program's three markers, preferred addresses
    st = {"spec": spec, "fd": None, "pid": None, "late": None, "buf": b"", "head": None, "note": None, "ns": None}
    if pods is None:
        st["head"] = "none the pods' subnets (kube_pods_subnet) are not known, so no pod namespace was looked for"
        return st
    if not pods:
        st["head"] = "none no pod network namespace on this node (no process in a namespace linked to it holding an address in the pods' subnets)"
        return st
    prefer = [x for x in (spec[4] if len(spec) > 4 else "").split(",") if x]
    best = None
    for pid, ino, addrs, nm in pods:
        al = addrs.split(",")
        key = (0 if any(a in prefer for a in al) else 1, 0 if nm else 1, nm[0] if nm else "", int(pid))
        if best is None or key < best[0]:
            best = (key, pid, al, nm)
    _, pid, al, nm = best
    path = nm[1] if nm else "/proc/%s/ns/net" % pid
    st["head"] = "ns %s %s %s %s" % (nm[0] if nm else "-", pid, ",".join(al), route_dev(al[0]) if "." in al[0] else "-")
    st["podpid"] = pid
    st["ns"], why = enter(path)
    if st["ns"] is not None:
        st["how"] = "setns"
        return st
    st["how"] = "nsenter (%s)" % why
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
    if st.get("ns") is not None:
        # in this process: its sockets are closed; the namespace fds go
        for fd in st["ns"][1:]:
            os.close(fd)
        st["ns"] = None
        lines.extend(["exit 0", "how setns"] + st.get("out", []))
        return lines
    if st.get("pid"):
        lines.append("exit %s" % ("-" if code is None else code))
    if st.get("how"):
        lines.append("how " + st["how"])
    if st.get("note"):
        lines.append("note " + st["note"])
    if st["buf"]:
        lines.append(st["buf"].decode("utf-8", "replace").rstrip("\n"))
    return lines
