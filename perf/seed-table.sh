#!/usr/bin/env bash
# Reproduces the seed's table: external -> guest at 10 Gb/s of 1514-byte frames, big (20-descriptor chains)
# vs mergeable (4096-byte buffers), RX ring sizes 256/512/1024, drop policy, guest wake-up latency 50 us.
# Prints a Markdown table for perf/RESULTS.md.   Usage: perf/seed-table.sh [SECONDS_PER_RUN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '| mode | rx ring | in flight (packets) | offered Gb/s | delivered Gb/s | drop %% | mean buffers/packet |\n'
printf '|---|---|---|---|---|---|---|\n'
for size in 256 512 1024; do
  for mode in big mergeable; do
    "$root/pagewire" run --config "$root/config/examples/seed-$mode.toml" --set "virtqueue.rx.size=$size" \
      --duration "${seconds}s" --quiet --summary "$out/$mode-$size.json" >/dev/null
    python3 - "$out/$mode-$size.json" "$mode" "$size" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rx = s["rx"]
drops = sum(rx["drops"].values())
offered = rx["offered_packets"]
hist = rx["buffers_per_packet"]
mean = sum(int(k.rstrip("+")) * v for k, v in hist.items()) / max(1, rx["packets"])
offered_gbps = offered * s["config"]["traffic.frame_size"] * 8 / s["duration_s"] / 1e9
print(f"| {sys.argv[2]} | {sys.argv[3]} | {rx['in_flight_capacity_packets']} | {offered_gbps:.2f} | "
      f"{rx['gbps']:.2f} | {100.0 * drops / max(1, offered):.1f} | {mean:.2f} |")
PY
  done
done
