# The pods' network namespaces on this node and their kernel counters, read-only (imported by
# probe.py and pod_counters.py): pod_namespaces() finds them, pod_counters() prints their Tcp/Udp
# counters as `@@podsnmp` sections.
import errno
import os
# the C module: the `socket` package imports enum and selectors, a third of the interpreter's start
import _socket as socket
import struct


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
def ns_names():
    # the names runtimes give network namespaces (containerd, CRI-O: /var/run/netns/cni-...), by
    # the namespace's inode: one stat per name
    names = {}
    for d in ("/var/run/netns", "/run/netns"):
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for n in entries:
            try:
                ino = os.stat(os.path.join(d, n)).st_ino
            except OSError:
                continue
            names.setdefault(ino, (n, os.path.join(d, n)))
    return names
def ns_ino(link):
    # "net:[4026532123]" -> 4026532123
    return int(link[5:-1]) if link.startswith("net:[") and link.endswith("]") else None
def pod_namespaces(subnets):
    # The pods' network namespaces on this node, read-only: every namespace other than ours that a
    # process under /proc is in, that this node's namespace has an id for (its veth peer's), and
    # that holds an address in the pods' subnets; one process each, whose /proc/<pid>/net/snmp is
    # that namespace's, and its name under /var/run/netns when it has one. A UDP datagram with a bad
    # checksum is counted where it is received — in the CoreDNS pod's namespace, not the node's.
    # Cheap on a node with hundreds of processes: one readlink per process, and only a namespace
    # not seen before (a pod's, typically: named ones first) is looked into.
    nets = []
    for x in subnets:
        a, _, p = x.partition("/")
        ip = ip_int(a)
        if ip and p.isdigit() and int(p) <= (32 if ip[0] == 4 else 128):
            nets.append((ip[0], ip[1], int(p)))
    try:
        own = ns_ino(os.readlink("/proc/self/ns/net"))
    except OSError:
        return []
    first = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ino = ns_ino(os.readlink("/proc/" + d + "/ns/net"))
        except OSError:
            continue
        if ino is not None and ino != own and ino not in first:
            first[ino] = d
    if not first:
        return []
    names = ns_names()
    found = []
    for ino in sorted(first, key=lambda i: (0 if i in names else 1, int(first[i]))):
        d = first[ino]
        i = nsid(d)
        if i is not None and i < 0:
            continue
        addrs = local_addrs(d, nets)
        if addrs:
            found.append((d, ino, ",".join(addrs), names.get(ino)))
    return found
def pod_counters(out, pods):
    out.append("@@value Netns.pods")
    out.append(str(len(pods)))
    out.append("@@rc 0")
    for pid, ino, addrs, _ in pods:
        out.append("@@podsnmp " + addrs)
        try:
            if ns_ino(os.readlink("/proc/%s/ns/net" % pid)) != ino:
                raise OSError(errno.ESRCH, "the process left the namespace")
            with open("/proc/%s/net/snmp" % pid) as f:
                out.append("\n".join(l.rstrip("\n") for l in f if l.startswith(("Tcp:", "Udp:"))))
            out.append("@@rc 0")
        except OSError as e:
            out.append("cat: /proc/%s/net/snmp: %s" % (pid, e.strerror))
            out.append("@@rc 1")
