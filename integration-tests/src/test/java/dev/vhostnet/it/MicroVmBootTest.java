package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.microvm.MicroVm;
import dev.vhostnet.microvm.VmExit;
import dev.vhostnet.sys.OpenFds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Java microVM boots Debian's kernel (the test VM's own) with the nested guest's initramfs
 * ({@code testvm/guest-init}) to its init, where a 0.1 s sleep ends (the guest's timer ticks), and
 * stops when the guest powers off. Runs in the test
 * VM, where KVM is nested under TCG (this host's {@code kvm_pvm} cannot boot a stock kernel), as part
 * of CI's in-VM run; directly on a host whose KVM boots Linux. The guest powers off by sysrq-o,
 * which Linux ends through ACPI S5 ({@code AcpiSleepControl}).
 */
@Tag("vhost-net")
@Tag("microvm")
class MicroVmBootTest {
    private static final String MARKER = "vhostnet-guest: init reached";
    private static final Duration BOUND = Duration.ofMinutes(6);

    @Test
    void bootsLinuxToTheGuestInitAndStopsWhenTheGuestPowersOff() throws Exception {
        NestedGuest.assumeKvmBootsLinux("CI runs it in the test VM (nested KVM): mvn -pl integration-tests -am verify "
                + "-Dtest=KernelTestsInVmTest -Dsurefire.failIfNoSpecifiedTests=false");
        Path image = NestedGuest.imageDir();
        Set<Integer> fdsBefore = OpenFds.snapshot();
        NestedGuest.Console console = new NestedGuest.Console(MARKER);
        VmExit end;
        String sample;
        try (MicroVm vm = MicroVm.builder()
                .kernel(image.resolve("vmlinuz"))
                .initrd(image.resolve("guest-initrd.img"))
                .cmdline(NestedGuest.CMDLINE)
                .memoryMib(256)
                .serialOutput(console)
                .build()) {
            vm.start();
            end = vm.awaitExit(BOUND).orElse(null);
            sample = vm.vcpuSample();
            System.out.printf(
                    "MicroVmBootTest: marker after %s s, guest ended after %.1f s: %s; exits %s; vCPU last seen %s%n",
                    console.markerSeconds(),
                    console.seconds(),
                    end,
                    vm.counters(),
                    NestedGuest.whereTheVcpuWas(sample));
            System.out.println("MicroVmBootTest: console:\n" + console);
        }
        // The last once-a-second sample is wherever the vCPU was: in the kernel its stack holds
        // kernel return addresses; in user mode (busybox, before the power-off) a user stack holds none.
        if (sample.startsWith("rip 0xffffffff8")) {
            assertTrue(
                    sample.matches(".* stack \\[[^\\]]*0xffffffff8[0-9a-f]{7}.*"),
                    () -> "the vCPU's stack, read through its page tables (KVM_TRANSLATE), holds kernel return "
                            + "addresses: " + sample);
        } else {
            assertTrue(
                    sample.matches("rip 0x[0-7][0-9a-f]{0,15} .* stack \\[\\]"),
                    () -> "in user mode, at a user address, with no kernel address on its stack: " + sample);
        }
        assertTrue(
                console.toString().contains(MARKER),
                () -> "no \"" + MARKER + "\" on the console within " + BOUND + ":\n" + console);
        assertTrue(
                console.toString().contains("vhostnet-guest: a timer interrupt ended a sleep"),
                () -> "the guest's local APIC timer ticks: a 0.1 s sleep ended\n" + console);
        assertTrue(
                end != null,
                () -> "the guest still ran after " + BOUND + " (the marker came; its power-off did not end it)");
        assertEquals(
                VmExit.Reason.POWEROFF,
                end.reason(),
                "Linux's kernel_power_off enters S5 through the FADT's sleep control register (\\_S5_ in the DSDT): "
                        + end);
        assertEquals("", OpenFds.leakedSince(fdsBefore), "every fd the microVM opened is closed");
    }
}
