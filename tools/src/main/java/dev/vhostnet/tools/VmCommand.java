package dev.vhostnet.tools;

import dev.vhostnet.microvm.KernelCmdline;
import dev.vhostnet.microvm.MicroVm;
import dev.vhostnet.microvm.VmExit;
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

/** {@code vhostnet vm}: boots a Linux bzImage in the Java microVM with its console on stdout. */
@Command(
        name = "vm",
        mixinStandardHelpOptions = true,
        description = {
            "Boot a Linux bzImage in a one-vCPU KVM microVM (direct 64-bit boot, no firmware), its serial console on stdout.",
            "Ends when the guest resets or powers off (the default command line turns poweroff -f into a reset), "
                    + "or at --timeout. Exits 0 when the guest ended itself, 1 on a KVM failure or the timeout."
        })
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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long started = System.nanoTime();
        try (MicroVm vm = MicroVm.builder()
                .kernel(kernel)
                .initrd(initrd)
                .cmdline(cmdline)
                .memoryMib(memoryMib)
                .serialOutput(new ConsoleStream(out))
                .build()) {
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
