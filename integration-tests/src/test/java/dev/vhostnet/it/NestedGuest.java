package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.microvm.KernelCmdline;
import dev.vhostnet.microvm.MicroVm;
import dev.vhostnet.microvm.VmExit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the microVM tests share: where a stock Linux guest can boot (not on this project's hosts'
 * {@code kvm_pvm}: in the test VM, nested), the guest's kernel and initramfs ({@code testvm/}), and
 * its console kept for assertions.
 */
final class NestedGuest {
    /**
     * The guest's command line: the VMM's default, and the guest's output through {@code /dev/kmsg}
     * (guest-init writes there) printed at warning level without rate limit. The kernel's console
     * writes poll the UART; a write to the tty waits for its THR-empty interrupt, which, nested under
     * TCG, was lost for good (microvm/README.md).
     */
    static final String CMDLINE = KernelCmdline.DEFAULT + " loglevel=5 printk.devkmsg=on";

    /** What guest-init prints last, before {@code poweroff -f}. */
    static final String DONE = "vhostnet-guest: powering off";

    private NestedGuest() {}

    /**
     * Starts the guest and waits, at most {@code bound}, until it ends or has printed {@link #DONE}
     * and then ended or had 30 s to: returns how it ended, if it did. Its poweroff is not waited for
     * longer: nested under TCG it has been seen to hang in the kernel's shutdown (microvm/README.md).
     */
    static Optional<VmExit> runUntilDone(MicroVm vm, Console console, Duration bound) throws InterruptedException {
        vm.start();
        long deadline = System.nanoTime() + bound.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<VmExit> end = vm.awaitExit(Duration.ofMillis(500));
            if (end.isPresent()) {
                return end;
            }
            if (console.toString().contains(DONE)) {
                return vm.awaitExit(Duration.ofSeconds(30));
            }
        }
        return Optional.empty();
    }

    /**
     * Skips the test unless this host's KVM boots stock kernels, naming what is missing and where
     * the test runs instead: {@code where}.
     */
    static void assumeKvmBootsLinux(String where) {
        String kvm = Kvm.unavailabilityCause();
        assumeTrue(kvm == null, () -> "needs /dev/kvm: " + kvm + "; " + where);
        assumeTrue(
                !Files.exists(Path.of("/sys/module/kvm_pvm")),
                () -> "needs a KVM that boots a stock Linux kernel; this host's is kvm_pvm, which cannot; " + where);
    }

    /** The test VM image (vmlinuz, guest-initrd.img): from run-in-vm.sh in the test VM, else built or reused by build-image.sh. */
    static Path imageDir() throws IOException, InterruptedException {
        String fromVm = System.getenv("VHOSTNET_TESTVM_IMAGE");
        if (fromVm != null) {
            return Path.of(fromVm);
        }
        Path script =
                Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "testvm", "build-image.sh");
        Process build = new ProcessBuilder(script.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String dir = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(build.waitFor(10, TimeUnit.MINUTES) && build.exitValue() == 0, "build-image.sh failed");
        return Path.of(dir);
    }

    /** Where {@code nokaslr} puts the kernel's text (x86-64 {@code __START_KERNEL_map} + 16 MiB). */
    private static final long TEXT_NOKASLR = 0xffffffff81000000L;

    /**
     * {@code sample} ({@link dev.vhostnet.microvm.MicroVm#vcpuSample()}) with the kernel function its
     * RIP is in and those its stack's kernel addresses are in. Debian ships no real {@code
     * System.map}, but in the test VM the nested guest runs the test VM's own kernel: its {@code
     * /proc/kallsyms}, moved by its KASLR offset, names the guest's functions (the guest runs with
     * {@code nokaslr}); addresses past its text (data, modules loaded elsewhere in each) stay numbers.
     */
    static String whereTheVcpuWas(String sample) {
        Path kallsyms = Path.of("/proc/kallsyms");
        if (!Files.isReadable(kallsyms)) {
            return sample;
        }
        try {
            List<String> lines = Files.readAllLines(kallsyms);
            long text = 0;
            long etext = 0;
            TreeMap<Long, String> symbols = new TreeMap<>(Long::compareUnsigned);
            for (String line : lines) {
                String[] f = line.split("\\s+");
                long address = Long.parseUnsignedLong(f[0], 16);
                if (f.length == 3 && (f[1].equals("t") || f[1].equals("T"))) {
                    symbols.put(address, f[2]);
                }
                if (f[2].equals("_text")) {
                    text = address;
                } else if (f[2].equals("_etext")) {
                    etext = address;
                }
            }
            if (text == 0) {
                return sample + " (no _text in /proc/kallsyms: not root?)";
            }
            long shift = text - TEXT_NOKASLR;
            Matcher m = Pattern.compile("0x(ffffffff8[0-9a-f]{7})").matcher(sample);
            StringBuilder named = new StringBuilder();
            while (m.find()) {
                long here = Long.parseUnsignedLong(m.group(1), 16) + shift;
                var symbol = symbols.floorEntry(here);
                m.appendReplacement(
                        named,
                        symbol == null || Long.compareUnsigned(here, etext) >= 0
                                ? m.group()
                                : m.group() + "=" + symbol.getValue() + "+0x"
                                        + Long.toHexString(here - symbol.getKey()));
            }
            m.appendTail(named);
            return named.toString();
        } catch (IOException | RuntimeException e) {
            return sample + " (/proc/kallsyms unreadable: " + e.getMessage() + ")";
        }
    }

    /** The guest's console, kept, with the time its first line holding {@code marker} arrived. */
    static final class Console extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final String marker;
        private final long start = System.nanoTime();
        private volatile long markerNanos;

        Console(String marker) {
            this.marker = marker;
        }

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
            if (b == '\n' && markerNanos == 0 && toString().contains(marker)) {
                markerNanos = System.nanoTime();
            }
        }

        /** Seconds from this console's creation to the marker, or "(none)". */
        String markerSeconds() {
            return markerNanos == 0 ? "(none)" : String.format("%.1f", (markerNanos - start) / 1e9);
        }

        /** Seconds since this console was made. */
        double seconds() {
            return (System.nanoTime() - start) / 1e9;
        }

        @Override
        public synchronized String toString() {
            return bytes.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
