#!/usr/bin/env bash
# Boots the guest built by build-guest.sh under QEMU (TCG), its one virtio-net-pci device backed by a vhost-user
# socket: pagewire (guest.type=vhost-user) or any other vhost-user backend (DPDK testpmd's net_vhost). The serial
# console goes to stdout; the guest prints PW-* lines (see perf/guest/init) and powers off, which ends QEMU.
#
#   perf/guest/run-guest.sh --socket /tmp/pw.sock [--qemu-server] [--mrg on|off] [--ip 10.0.0.2/24] \
#       [--cmd 'ping,-c,3,10.0.0.1'] [--cmd 'watch,30,2'] [--queue-size 256] [--queues N] [--mtu 9000] \
#       [--guest-tso on|off] [--append 'kernel args'] [--timeout 120] [--cpus 1] \
#       [-- extra qemu args]
#
# --queues N: N queue pairs (pagewire guest.queue_pairs=N) and N vCPUs, since Linux's virtio_net uses as many pairs as
# there are CPUs.
#
# --guest-tso off: the device offers the guest no receive offloads (guest_tso4/6, guest_ecn, guest_ufo off). Those
# are what make Linux's virtio_net post 64 KiB "big packet" chains when mrg_rxbuf is off; QEMU offers them only when the
# vhost-user backend does too (DPDK's net_vhost does, pagewire does not), so "on" (the default) leaves it to the backend.
#
# --cpus LIST: QEMU (all its threads, the vCPUs among them) runs only on these CPUs (taskset -c LIST), e.g. all but
# the one a busy-polling backend spins on, so the guest never shares that CPU with it.
#
# --qemu-server: QEMU listens on the socket (pagewire with guest.mode=client); default: QEMU connects (pagewire's
# default server mode; start pagewire first). Notes: TCG because /dev/kvm may be absent or nested; the guest memory is
# a shared memfd so the backend can map it; vectors=0 (INTx) because QEMU 7.2 under TCG crashes at DRIVER_OK with
# vhost-user and MSI-X.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket=
server=
mrg=on
tso=
ip=10.0.0.2/24
cmds=()
qsize=256
queues=1
timeout_s=120
mem=512
dir=${PW_GUEST_DIR:-$here/target}
extra=()
append_extra=
pin=()
while [ $# -gt 0 ]; do
  case "$1" in
    --socket) socket=$2; shift 2 ;;
    --qemu-server) server=1; shift ;;
    --mrg) mrg=$2; shift 2 ;;
    --guest-tso)
      case "$2" in
        on) tso= ;;
        off) tso=,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off ;;
        *) echo "run-guest: --guest-tso on|off" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --mtu) append_extra="$append_extra pw.mtu=$2"; shift 2 ;;
    --append) append_extra="$append_extra $2"; shift 2 ;;
    --cmd) cmds+=("$2"); shift 2 ;;
    --queue-size) qsize=$2; shift 2 ;;
    --queues) queues=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --cpus) pin=(taskset -c "$2"); shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run-guest: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$socket" ] || { echo "run-guest: --socket is required" >&2; exit 2; }
[ -f "$dir/vmlinuz" ] && [ -f "$dir/initramfs.cpio.gz" ] || { echo "run-guest: run build-guest.sh first ($dir)" >&2; exit 2; }

append="console=ttyS0 loglevel=3 panic=-1 ipv6.disable=1 pw.ip=$ip$append_extra"
for c in "${cmds[@]:-}"; do
  [ -n "$c" ] && append="$append pw.cmd=$c"
done
chardev="socket,id=c0,path=$socket"
mq=
[ "$queues" -gt 1 ] && mq=",mq=on"
[ -n "$server" ] && chardev="$chardev,server=on,wait=off"

exec "${pin[@]}" timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
  -accel tcg -cpu max -m "$mem" -smp "$queues" \
  -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -numa node,memdev=mem \
  -nographic -serial stdio -monitor none -no-reboot -nodefaults \
  -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" -append "$append" \
  -chardev "$chardev" \
  -netdev "vhost-user,id=n0,chardev=c0,queues=$queues" \
  -device "virtio-net-pci,netdev=n0,romfile=,vectors=0,mrg_rxbuf=$mrg,rx_queue_size=$qsize,tx_queue_size=$qsize$mq$tso" \
  "${extra[@]}"
