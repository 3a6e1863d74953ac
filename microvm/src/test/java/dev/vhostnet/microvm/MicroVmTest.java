package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.sys.OpenFds;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MicroVmTest {
    @TempDir
    Path dir;

    private static void assumeKvm() {
        String cause = Kvm.unavailabilityCause();
        assumeTrue(cause == null, () -> "needs /dev/kvm: " + cause);
    }

    private Path tiny() throws java.io.IOException {
        return TinyKernel.write(dir, "tiny", TinyKernel.OK_AND_RESET);
    }

    @Test
    void theBootPathReachesTheEntryInLongModeWithTheZeroPageInRsi() throws Exception {
        assumeKvm();
        Set<Integer> before = OpenFds.snapshot();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Optional<VmExit> end;
        try (MicroVm vm = MicroVm.builder()
                .kernel(tiny())
                .memoryMib(16)
                .serialOutput(console)
                .build()) {
            vm.start();
            end = vm.awaitExit(Duration.ofSeconds(20));
        }
        assumeTrue(
                end.isPresent() || !Files.exists(Path.of("/sys/module/kvm_pvm")),
                "this host's KVM is kvm_pvm, which does not run this VMM's guests (it needs a PVM guest kernel); "
                        + "MicroVmBootTest runs them in the test VM");
        assertEquals(Optional.of(new VmExit(VmExit.Reason.RESET, "i8042 reset")), end);
        assertEquals("OK\u00ff", console.toString(StandardCharsets.ISO_8859_1), "type_of_loader 0xff read through RSI");
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void aGuestThatNeverEndsIsStoppedByCloseWithEveryFdClosed() throws Exception {
        assumeKvm();
        Path spin = TinyKernel.write(dir, "spin", TinyKernel.SPIN);
        Set<Integer> before = OpenFds.snapshot();
        MicroVm vm = MicroVm.builder().kernel(spin).memoryMib(16).build();
        vm.start();
        assertEquals(Optional.empty(), vm.awaitExit(Duration.ofMillis(300)));
        long start = System.nanoTime();
        vm.close();
        assertTrue(System.nanoTime() - start < 5_000_000_000L, "close kicked the vCPU out of KVM_RUN");
        assertEquals(Optional.of(new VmExit(VmExit.Reason.STOPPED, "")), vm.awaitExit(Duration.ZERO));
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void aGuestHaltedWithInterruptsOffHasEnded() throws Exception {
        assumeKvm();
        Path halt = TinyKernel.write(dir, "halt", TinyKernel.HALT);
        try (MicroVm vm = MicroVm.builder().kernel(halt).memoryMib(16).build()) {
            vm.start();
            assertEquals(
                    Optional.of(new VmExit(VmExit.Reason.HALTED, "hlt with interrupts disabled")),
                    vm.awaitExit(Duration.ofSeconds(10)),
                    "what Linux's poweroff -f does without ACPI ends the VM");
        }
    }

    @Test
    void refusesMemoryOutsideWhatTheLayoutHolds() {
        assertThrows(
                IllegalArgumentException.class,
                () -> MicroVm.builder().kernel(tiny()).memoryMib(4096).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> MicroVm.builder().kernel(tiny()).memoryMib(8).build());
    }

    @Test
    void refusesAnInitrdThatDoesNotFit() throws Exception {
        assumeKvm();
        Path initrd = dir.resolve("initrd");
        Files.write(initrd, new byte[20 << 20]);
        Set<Integer> before = OpenFds.snapshot();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> MicroVm.builder()
                        .kernel(tiny())
                        .initrd(initrd)
                        .memoryMib(16)
                        .build());
        assertTrue(e.getMessage().contains("give the guest more memory"), e.getMessage());
        assertEquals("", OpenFds.leakedSince(before), "a failed build closes what it opened");
    }
}
