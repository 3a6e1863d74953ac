package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class SpawnTest {
    @Test
    void theChildSeesStdioAndThePassedDescriptorsOnlyUnderTheirNumbers() throws Exception {
        // The JDK opens files without O_CLOEXEC: this one must not reach the child.
        try (FileInputStream jvmFile = new FileInputStream("/etc/hostname");
                Fd a = Fd.open("/dev/null", Fcntl.O_RDWR, Hint.NONE);
                Fd b = Syscalls.eventfd(0, EventfdUapi.EFD_CLOEXEC)) {
            Spawn.Child child =
                    Spawn.start(List.of("sleep", "10"), Map.of("PATH", System.getenv("PATH")), List.of(a, b));
            Path proc = Path.of("/proc", String.valueOf(child.pid()));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!Files.readString(proc.resolve("cmdline")).startsWith("sleep") && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            List<String> seen;
            try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
                seen = fds.map(p -> p.getFileName().toString()).sorted().toList();
            }
            Spawn.start(List.of("kill", String.valueOf(child.pid())), Map.of("PATH", System.getenv("PATH")), List.of())
                    .waitFor();
            assertEquals(128 + 15, child.waitFor());
            List<String> expected = List.of("0", "1", "2", String.valueOf(a.get()), String.valueOf(b.get())).stream()
                    .sorted()
                    .toList();
            assertEquals(expected, seen);
            assertTrue(a.isCloseOnExec() && b.isCloseOnExec(), "FD_CLOEXEC set again after the spawn");
        }
    }

    @Test
    void exitStatusAndSignalsAreReportedAsAShellDoes() throws Exception {
        Map<String, String> env = Map.of("PATH", System.getenv("PATH"));
        assertEquals(
                7, Spawn.start(List.of("sh", "-c", "exit 7"), env, List.of()).waitFor());
        assertEquals(
                128 + 9,
                Spawn.start(List.of("sh", "-c", "kill -9 $$"), env, List.of()).waitFor());
        SysException e =
                assertThrows(SysException.class, () -> Spawn.start(List.of("no-such-program-x"), env, List.of()));
        assertTrue(e.is(Errno.ENOENT), e.getMessage());
    }
}
