#!/usr/bin/env bash
# The probe program where a node has no python3 (bash -c, the probe lines on stdin): bash's /dev/udp
# and /dev/tcp with coreutils, one background job per path, its probes one after another; `timeout`
# bounds each probe. A UDP query must leave in one write (one datagram): bash's printf may flush at a
# newline byte, so dd gathers it first.
# argv: the probe timeout (ms), how long to wait for more paths on fd 4 (ms).
T=$1 W=$2
probe() {
  p=$1 k=$2 ip=$3 port=$4 proto=$5 hex=$6
  t0=$(date +%s%N)
  bytes=$(printf '%s' "$hex" | sed 's/../\\x&/g')
  if [ "$proto" = udp ]; then
    # the single-quoted text is a program for the inner bash, given its values as arguments
    # shellcheck disable=SC2016
    out=$(timeout "$(awk "BEGIN{print $T/1000}")" bash -c 'exec 3<>"/dev/udp/$0/$1" || exit 3; printf "$2" | dd bs=65535 iflag=fullblock count=1 2>/dev/null >&3; dd bs=65535 count=1 <&3 2>/dev/null | od -An -v -tx1' "$ip" "$port" "$bytes" 2>/dev/null | tr -d ' \n')
  else
    len=$(( ${#hex} / 2 )); pre=$(printf '\\x%02x\\x%02x' $((len>>8)) $((len&255)))
    # shellcheck disable=SC2016 # as above: a program for the inner bash
    out=$(timeout "$(awk "BEGIN{print $T/1000}")" bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 3; printf "$2$3" >&3; h=$(dd bs=1 count=2 <&3 2>/dev/null | od -An -v -tu1); set -- $h; [ $# -eq 2 ] || exit 4; n=$(( $1 * 256 + $2 )); dd bs=$n count=1 iflag=fullblock <&3 2>/dev/null | od -An -v -tx1' "$ip" "$port" "$pre" "$bytes" 2>/dev/null | tr -d ' \n')
  fi
  t1=$(date +%s%N)
  if [ -n "$out" ]; then echo "R $p $k $(( (t1-t0)/1000 )) $out" | awk '{printf "R %s %s %.3f %s\n", $2, $3, $4/1000, $5}'; else echo "E $p $k timeout"; fi
}
queue() {
  # lines marked P are for the program in a pod's namespace (python3 only)
  [ "$1" != P ] || return 0
  [ -n "$6" ] || return 0
  v=Q_$1
  printf -v "$v" '%s %s' "${!v}" "$2:$3:$4:$5:$6"
  case " $PATHS $NEW " in *" $1 "*) ;; *) NEW="$NEW $1";; esac
}
launch() {
  for p in $NEW; do
    ( v=Q_$p; list=${!v}; for item in $list; do IFS=: read -r k ip port proto hex <<EOF_ITEM
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
  while left=$(( end - $(date +%s) )); [ "$left" -gt 0 ] && read -r -t "$left" -a line <&4; do
    [ "${line[*]}" = END ] && break
    queue "${line[@]}"
  done
  launch
fi
wait
echo DONE
