# The pod namespaces' counters read once more, as a program of their own: a node's own window
# closes when its probes end, while another node's queries to its CoreDNS pod may still be
# arriving. argv[1]: the pods' subnets, comma-separated ("-": none). Read-only, like probe.py.
import sys

from pod_netns import pod_counters, pod_namespaces

out = []
pods = pod_namespaces(sys.argv[1].split(","))
if pods is not None:
    pod_counters(out, pods)
sys.stdout.write("\n".join(out) + "\n")
