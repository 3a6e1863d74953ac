package dev.vhostnet.tools;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.microvm.KernelCmdline;
import dev.vhostnet.microvm.MicroVm;
import dev.vhostnet.microvm.VmExit;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.virtionet.VirtioNetDevice;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet vm}: boots a Linux bzImage in the Java microVM with its console on stdout and,
 * with {@code --tap}, a virtio-net NIC on virtio-mmio whose datapath is vhost-net (or the emulated
 * fallback) on that tap.
 */
@Command(
        name = "vm",
        mixinStandardHelpOptions = true,
        description = {
            "Boot a Linux bzImage in a one-vCPU KVM microVM (direct 64-bit boot, no firmware), its serial console on stdout.",
            "Ends when the guest resets or powers off (the default command line turns poweroff -f into a reset), "
                    + "or at --timeout. Exits 0 when the guest ended itself, 1 on a KVM failure or the timeout.",
            "With --tap, the guest has a virtio-net NIC on virtio-mmio (its driver: virtio_mmio and virtio_net), "
                    + "its packets on that tap through vhost-net, or the emulated datapath (--backend)."
        },
        footer = {"", "Example: vhostnet vm --kernel /boot/vmlinuz --initrd initrd.img --tap vm0 --backend kernel"})
final class VmCommand implements Callable<Integer> {
    @Option(
            names = "--kernel",
            required = true,
            paramLabel = "BZIMAGE",
            description = "The kernel (a bzImage with the 64-bit entry, boot protocol 2.12+).")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "The initramfs.")
    Path initrd;

    @Option(
            names = "--cmdline",
            paramLabel = "TEXT",
            description = "The kernel command line; default: ${DEFAULT-VALUE}")
    String cmdline = KernelCmdline.DEFAULT;

    @Option(
            names = "--memory",
            paramLabel = "MiB",
            description = "Guest RAM, 16 to 3072 MiB; default ${DEFAULT-VALUE}.")
    int memoryMib = 256;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            description = "Stop the guest after this long; 0 (default) waits for it to end.")
    long timeoutSeconds;

    @Option(
            names = "--tap",
            paramLabel = "NAME",
            description =
                    "Give the guest a NIC on this tap: a persistent one (vhostnet tap create NAME --vnet-hdr), or made for this run.")
    String tap;

    @Option(
            names = "--queues",
            paramLabel = "N",
            description = "Queue pairs of the NIC (a multiqueue tap when more than 1); default ${DEFAULT-VALUE}.")
    int queues = 1;

    @Option(
            names = "--backend",
            paramLabel = "POLICY",
            description = "The NIC's datapath: ${COMPLETION-CANDIDATES}; default ${DEFAULT-VALUE}.")
    BackendChoice.Policy backend = BackendChoice.Policy.PREFER_KERNEL;

    @Option(
            names = "--tx-copy",
            paramLabel = "MODE",
            description =
                    "With the emulated datapath, how a frame the guest sends reaches the tap: SINGLE (one writev "
                            + "of the guest's buffers) or DOUBLE (gathered into a buffer first, the yardstick); default ${DEFAULT-VALUE}.")
    TxCopy txCopy = TxCopy.DEFAULT;

    @Option(names = "--mac", paramLabel = "MAC", description = "The NIC's Ethernet address; default ${DEFAULT-VALUE}.")
    String mac = DEFAULT_MAC;

    /** QEMU's default NIC address. */
    static final String DEFAULT_MAC = "52:54:00:12:34:56";

    @Spec
    CommandSpec spec;

    /** The guest's NIC, once the VM has made it. */
    private VirtioNetDevice nic;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long started = System.nanoTime();
        MicroVm.Builder builder = MicroVm.builder()
                .kernel(kernel)
                .initrd(initrd)
                .cmdline(cmdline)
                .memoryMib(memoryMib)
                .serialOutput(new ConsoleStream(out));
        try (TapDevice nicTap = tap == null ? null : openTap();
                MicroVm vm = (nicTap == null ? builder : builder.virtioMmio(memory -> nic(nicTap, memory))).build()) {
            if (nic != null) {
                err.printf("vm: NIC %s on tap %s, %s backend (%s)%n", nic.mac(), nicTap.name(), backend, nic.kind());
            }
            vm.start();
            Optional<VmExit> end =
                    vm.awaitExit(timeoutSeconds > 0 ? Duration.ofSeconds(timeoutSeconds) : Duration.ofDays(365));
            out.flush();
            double seconds = (System.nanoTime() - started) / 1e9;
            if (end.isEmpty()) {
                err.printf(
                        "vm: the guest still ran after %d s; stopped it (exits: %s)%n", timeoutSeconds, vm.counters());
                return Failures.FAILURE;
            }
            err.printf(
                    "vm: guest ended after %.1f s: %s (%d accesses no device took)%n",
                    seconds, end.get(), vm.counters().unhandled());
            return end.get().reason() == VmExit.Reason.FAILED ? Failures.FAILURE : 0;
        }
    }

    private TapDevice openTap() throws IOException {
        Preconditions.checkArgument(queues >= 1, "--queues must be at least 1: %s", queues);
        return TapDevice.open(TapConfig.builder()
                .name(tap)
                .queues(queues)
                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                .build());
    }

    private VirtioNetDevice nic(TapDevice nicTap, MemoryTable memory) throws IOException {
        nic = VirtioNetDevice.builder()
                .memory(memory)
                .tap(nicTap)
                .backend(backend)
                .txCopy(txCopy)
                .mac(MacAddress.parse(mac))
                .maxQueuePairs(queues)
                .build();
        return nic;
    }

    /** The console's bytes onto the command's output, read as Latin-1. */
    private static final class ConsoleStream extends OutputStream {
        private final PrintWriter out;

        ConsoleStream(PrintWriter out) {
            this.out = out;
        }

        @Override
        public void write(int b) {
            out.write(b & 0xff);
        }

        @Override
        public void flush() {
            out.flush();
        }
    }
}
