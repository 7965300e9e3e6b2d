#!/bin/bash
# Lifecycle hook runs the kernel skips (softirq state changes nested in the lifecycle program) under
# connection churn, this build against another one, alternated:
#   bench/tcp-nesting-stress.sh ROUNDS SECONDS RPS_MASK OTHER_BUILD_DIR [AGENT_ARGS...]
# (AGENT_ARGS: e.g. --bpf-stats, for the programs' run time per run.)
# Each run: a fresh agent, a fresh network namespace whose loopback steers received packets to the
# CPUs in RPS_MASK (3: both of two; the packet is then taken in by a softirq raised by an IPI on the
# other CPU, which nests in whatever runs there, the lifecycle program included), tcpload churn with
# 2 threads for SECONDS. Prints a JSON line per run: the generator's connections, opens and closes
# by role for its port, the programs' recursion_misses (bpf_prog_info), the tcp_counters.
set -euo pipefail
rounds=$1; secs=$2; mask=$3; other=$4; shift 4; agent_args=("$@")
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d)/fs-churn; gcc -O1 -o "$bin" "$here/test/fixtures/tcpload.c" -pthread
progs() { for f in /proc/$1/fdinfo/*; do grep -h '^prog_id' "$f" 2>/dev/null || true; done | awk '{print $2}' | sort -u | tr '\n' ' '; }
counters() {
  for id in $(progs $1); do bpftool prog show id $id -j; echo; done | python3 -c "
import json,sys,subprocess
for line in sys.stdin:
  if not line.strip(): continue
  p=json.loads(line)
  if not p.get('name','').startswith('tcp_state'): continue
  for m in p.get('map_ids',[]):
    if json.loads(subprocess.check_output(['bpftool','map','show','id',str(m),'-j']))['name']=='tcp_counters':
      d=json.loads(subprocess.check_output(['bpftool','map','dump','id',str(m),'-j']))
      print(json.dumps({e['formatted']['key']: sum(v['value'] for v in e['formatted']['values']) for e in d})); sys.exit(0)" || true

}
ns=; apid=; sp=
cleanup() { [ -n "$sp" ] && kill $sp 2>/dev/null; [ -n "$apid" ] && kill $apid 2>/dev/null; [ -n "$ns" ] && ip netns del $ns 2>/dev/null; true; }
trap cleanup EXIT
one() { # build-label build-dir
  local port=$((20000 + RANDOM % 20000)); ns=fsnest$RANDOM$RANDOM
  FLOWSCOPE_FLOW_INTERFACES='^lo$' "$2/bin/flowscope" agent --listen 127.0.0.1:$port --log-level error "${agent_args[@]}" >/dev/null 2>&1 & apid=$!
  for _ in $(seq 100); do curl -sf 127.0.0.1:$port/healthz >/dev/null && break; sleep 0.2; done
  ip netns add $ns; ip -n $ns link set lo up
  ip netns exec $ns sh -c "echo $mask > /sys/class/net/lo/queues/rx-0/rps_cpus"
  ip netns exec $ns "$bin" server 127.0.0.1 7000 1 >/dev/null 2>&1 & sp=$!; sleep 0.4
  local c; c=$(ip netns exec $ns "$bin" churn 127.0.0.1 7000 $secs 2)
  sleep 0.3; kill $sp; wait $sp 2>/dev/null || true; sp=; sleep 2.5
  local m; m=$(mktemp); curl -s 127.0.0.1:$port/metrics > "$m"
  local info; info=$(python3 "$here/test/support/prog_info.py" $(progs $apid))
  local cnt; cnt=$(counters $apid)
  kill $apid; wait $apid 2>/dev/null || true; apid=; ip netns del $ns; ns=
  M="$m" python3 - "$1" "$c" "$info" "$cnt" <<'PY'
import json,os,re,sys
label,churn,info,cnt=sys.argv[1],json.loads(sys.argv[2]),json.loads(sys.argv[3]),json.loads(sys.argv[4])
def s(name,role):
  return sum(float(v) for v in re.findall(r'^%s\{role="%s"[^}]*port="7000"[^}]*\} (\S+)$'%(name,role),open(os.environ['M']).read(),re.M))
misses={p['name']:p['recursion_misses'] for p in info if p['name'].startswith('tcp_state')}
ns_per_run={p['name']:round(p['run_time_ns']/p['run_cnt']) for p in info if p['name'].startswith('tcp_state') and p['run_cnt']}
ns_per_conn=round(sum(p['run_time_ns'] for p in info if p['name'].startswith('tcp_state'))/churn['connections'])
print(json.dumps({'build':label,'connections':churn['connections'],'per_second':churn['per_second'],
 'opened_client':s('flowscope_tcp_connections_opened_total','client'),'opened_server':s('flowscope_tcp_connections_opened_total','server'),
 'closed_client':s('flowscope_tcp_connections_closed_total','client'),'closed_server':s('flowscope_tcp_connections_closed_total','server'),
 'recursion_misses':misses,'nested_handled':cnt.get('2'),'close_unseen':cnt.get('5'),'close_inferred':cnt.get('8'),'claim_evicted':cnt.get('9'),'ns_per_run':ns_per_run,'lifecycle_ns_per_conn':ns_per_conn}))
PY
  rm -f "$m"
}
for r in $(seq $rounds); do
  if (( r % 2 )); then one this "$here"; one other "$other"; else one other "$other"; one this "$here"; fi
done
