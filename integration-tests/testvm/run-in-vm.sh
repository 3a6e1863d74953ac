#!/usr/bin/env bash
# Runs a command as root in the test VM, in the current directory, and exits with its exit code.
#
#   run-in-vm.sh [--results DIR] [--timeout SECONDS] [--smp N] [--icount] [--vhost-user SOCKET
#                [--vhost-user-queues N] [--vhost-user-server]] [--] COMMAND [ARG...]
#
# The VM's root is the host's / (read-only), so the command sees the host's files at the same
# paths, except under /tmp and /run, which are fresh tmpfs (the current directory and DIR stay
# visible there). DIR (default: integration-tests/target/testvm) is writable at its own path. The
# VM writes there console.log (serial console: kernel, init and the command's output) and
# exit-code; this script leaves job.sh, job-dir, results-dir and qemu.log there. The command finds
# the image directory (vmlinuz, guest-initrd.img) in $VHOSTNET_TESTVM_IMAGE. No exit-code
# means the VM did not boot or the command did not run: then this script exits with 125.
# The VM is killed after SECONDS (default: $VHOSTNET_TESTVM_TIMEOUT, else 1200). --smp N gives it N
# vCPUs (default 1). Single-threaded TCG runs one vCPU at a time, so a second adds no speed, and
# two cost twice:
# - TCG round-robins them, so every hand-off between threads waits for a time slice and packets/s
#   measure the scheduler; with one, a hand-off is a context switch and packets/s is 1 / (total
#   CPU per packet).
# - The round-robin's 100 ms kick breaks nested KVM's guests. QEMU's helper_vmrun
#   (target/i386/tcg/sysemu/svm_helper.c) leaves exception_index set to the vector it injected
#   from EVENTINJ. A kick before the next VM exit makes cpu_exec deliver that vector again as an
#   exception, with interrupts off. In microVM guests that was a timer interrupt at the first
#   instruction of its own entry stub, or inside hrtimer_interrupt, deadlocking on the lock it
#   holds (microvm/README.md). With one vCPU TCG arms no kick timer: 10 of 10 MicroVmNetTest guests
#   passed, against about 1 in 3 deadlocked with two.
# --icount runs
# the guest's clock on instructions executed (QEMU -icount shift=0,sleep=off: 1 ns per instruction,
# idle time skipped), not on the host's clock: CPU times measured in the guest then count guest
# instructions, whatever else the host is running.
# With --vhost-user, the VM also gets a virtio-net NIC whose datapath is the vhost-user back-end
# listening on SOCKET (QEMU connects as client, and again a second after the back-end goes away:
# reconnect=1), its RAM a shared memfd the back-end can map. The
# NIC has no MSI-X (vectors=0, INTx): Debian 12's QEMU 7.2 under TCG segfaults (a NULL read at 0x28)
# when the guest's virtio_net driver starts a vhost-user NIC that has MSI-X, before it sends
# SET_FEATURES; with INTx it runs. --vhost-user-queues N gives the NIC N queue pairs (queues=N,
# mq=on). With --vhost-user-server, QEMU listens on SOCKET (server=on) and waits at start for the
# back-end to dial in (its client mode), and again after the back-end goes away.
#
# Needs: qemu-system-x86 and coreutils, plus what build-image.sh needs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results="$here/../target/testvm"
timeout=${VHOSTNET_TESTVM_TIMEOUT:-1200}
vhost_user=
vhost_user_queues=1
vhost_user_server=
smp=1
icount=()

log() { echo "run-in-vm: $*" >&2; }
usage() {
    echo "usage: $0 [--results DIR] [--timeout SECONDS] [--smp N] [--icount] [--vhost-user SOCKET" \
        "[--vhost-user-queues N] [--vhost-user-server]] [--] COMMAND [ARG...]" >&2
    exit 2
}

while (($#)); do
    case $1 in
        --results) (($# >= 2)) || usage; results=$2; shift 2 ;;
        --timeout) (($# >= 2)) || usage; timeout=$2; shift 2 ;;
        --smp) (($# >= 2)) || usage; smp=$2; shift 2 ;;
        --icount) icount=(-icount shift=0,sleep=off); shift ;;
        --vhost-user) (($# >= 2)) || usage; vhost_user=$2; shift 2 ;;
        --vhost-user-queues) (($# >= 2)) || usage; vhost_user_queues=$2; shift 2 ;;
        --vhost-user-server) vhost_user_server=1; shift ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
(($#)) || usage
[[ $smp =~ ^[1-9][0-9]*$ ]] || usage

mkdir -p "$results"
results=$(realpath "$results")
rm -f "$results/exit-code" "$results/console.log" "$results/qemu.log"

image=$("$here/build-image.sh")

# The job: the command, run from this directory, with VHOSTNET_TESTVM_IMAGE naming the image
# directory (the nested guest's kernel and initramfs are there). init runs it inside the chroot.
{
    printf 'export VHOSTNET_TESTVM_IMAGE=%q\n' "$image"
    printf 'cd %q || exit 126\n' "$PWD"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} >"$results/job.sh"
echo "$results" >"$results/results-dir"
echo "$PWD" >"$results/job-dir"

memory=(-m 1024)
nic=()
if [[ -n $vhost_user ]]; then
    [[ $vhost_user_queues =~ ^[1-9][0-9]*$ ]] || usage
    if [[ -n $vhost_user_server ]]; then
        chardev="socket,id=vhost-user,path=${vhost_user//,/,,},server=on"
    else
        [[ -S $vhost_user ]] || { log "error: no vhost-user back-end listening on $vhost_user"; exit 2; }
        chardev="socket,id=vhost-user,path=${vhost_user//,/,,},reconnect=1"
    fi
    mq=
    ((vhost_user_queues == 1)) || mq=,mq=on
    memory=(-m 1024 -object memory-backend-memfd,id=ram,size=1024M,share=on -machine memory-backend=ram)
    nic=(-chardev "$chardev"
        -netdev "vhost-user,id=net0,chardev=vhost-user,queues=$vhost_user_queues"
        -device "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:02,vectors=0$mq")
fi

started=$SECONDS
log "booting the VM (timeout ${timeout}s; console: $results/console.log)"
qemu_status=0
# QEMU's option parser reads ',' as a separator; ',,' is a literal comma.
# TCG runs single-threaded: with one host thread per vCPU, JVMs in the guest crashed now and then
# (SIGSEGV at JIT-compiled code, e.g. at a method's first instruction: 3 of 4 bench runs), which
# points at cross-modifying code between vCPU threads; with thread=single, 0 of 5. AVX is off as
# well: Debian 12's QEMU 7.2 brought AVX/AVX2 to TCG, the JVM's first suspect.
timeout --kill-after=30 "$timeout" qemu-system-x86_64 \
    -accel tcg,thread=single -cpu max,avx=off,avx2=off -smp "$smp" "${icount[@]}" "${memory[@]}" \
    -nodefaults -no-reboot -display none -monitor none \
    -serial "file:$results/console.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "console=ttyS0 panic=-1" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=${results//,/,,},mount_tag=results,security_model=none,multidevs=remap" \
    "${nic[@]}" \
    </dev/null >"$results/qemu.log" 2>&1 || qemu_status=$?
log "VM ran for $((SECONDS - started))s"

if ((qemu_status == 124 || qemu_status == 137)); then
    log "error: the VM timed out after ${timeout}s; see $results/console.log"
elif ((qemu_status != 0)); then
    log "error: QEMU exited with $qemu_status; see $results/qemu.log"
fi
if [[ ! -f $results/exit-code ]]; then
    log "error: no exit code: the VM did not boot or the command did not run; see $results/console.log"
    exit 125
fi
exit "$(cat "$results/exit-code")"
