package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.Kvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the microVM tests share: where a stock Linux guest can boot (not on this project's hosts'
 * {@code kvm_pvm}: in the test VM, nested), the guest's kernel and initramfs ({@code testvm/}), and
 * its console kept for assertions.
 */
final class NestedGuest {
    private NestedGuest() {}

    /** Skips the test, saying why and where it runs, unless this host's KVM boots stock kernels. */
    static void assumeKvmBootsLinux(String tag) {
        String kvm = Kvm.unavailabilityCause();
        assumeTrue(kvm == null, () -> "needs /dev/kvm: " + kvm);
        assumeTrue(
                !Files.exists(Path.of("/sys/module/kvm_pvm")),
                "this host's KVM is kvm_pvm, which cannot boot a stock Linux kernel; it runs in the test VM (nested "
                        + "KVM): mvn -pl integration-tests -am test -Dtest=KernelTestsInVmTest "
                        + "-Dsurefire.failIfNoSpecifiedTests=false -Dvhostnet.testvm.tag=" + tag);
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

    /**
     * {@code sample} ({@link dev.vhostnet.microvm.MicroVm#vcpuSample()}) with the kernel function its
     * RIP is in, from the image's {@code System.map} (the guest runs with {@code nokaslr}).
     */
    static String whereTheVcpuWas(Path image, String sample) {
        Matcher m = Pattern.compile("rip 0x([0-9a-f]+)").matcher(sample);
        Path map = image.resolve("System.map");
        if (!m.find() || !Files.exists(map)) {
            return sample;
        }
        long rip = Long.parseUnsignedLong(m.group(1), 16);
        String best = null;
        long bestAddress = 0;
        try {
            for (String line : Files.readAllLines(map)) {
                String[] f = line.split(" ");
                if (f.length < 3) {
                    continue;
                }
                long address = Long.parseUnsignedLong(f[0], 16);
                if (Long.compareUnsigned(address, rip) <= 0 && Long.compareUnsigned(address, bestAddress) > 0) {
                    bestAddress = address;
                    best = f[2];
                }
            }
        } catch (IOException | NumberFormatException e) {
            return sample + " (System.map unreadable: " + e.getMessage() + ")";
        }
        return best == null ? sample : sample + " in " + best + "+0x" + Long.toHexString(rip - bestAddress);
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
