package dev.vhostnet.memtable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code memfd_create} refused half-way through {@link MemoryTable.Builder#build()}: this process's
 * open-files limit ({@code RLIMIT_NOFILE}, lowered with {@code prlimit}) leaves room for two memfds
 * of four regions, so the third fails with {@code EMFILE}, as it would for a VMM near its limit.
 */
class MemfdRefusedTest {
    private static final long MIB2 = 2 << 20;

    @Test
    void aBuildRefusedHalfWayClosesEveryFdItOpenedOrTookAndSaysWhy() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs util-linux's prlimit");
        // Under the lowered limit no class file can be opened: load what a build and its failure use
        // first, the failure by a real refusal (a name longer than memfd_create takes).
        MemoryTable.builder().region(0, MIB2).build().close();
        SysException tooLong = assertThrows(SysException.class, () -> Syscalls.memfdCreate("n".repeat(250), 0));
        assertTrue(tooLong.is(Errno.EINVAL), "a memfd name over 249 bytes: " + tooLong.getMessage());
        String limit = softAndHardLimit();
        Set<Integer> before = OpenFds.snapshot();
        Fd theirs = Syscalls.memfdCreate("front-end-ram", 0);
        theirs.truncate(MIB2);
        MemoryTable.Builder builder = MemoryTable.builder()
                .mapped(0, MIB2, theirs, 0)
                .region(MIB2, MIB2)
                .region(2 * MIB2, MIB2)
                .region(3 * MIB2, MIB2);
        SysException e;
        // Started first: under the lowered limit this process cannot start another (a spawn needs fds).
        Process restorer = sh("read line; exec prlimit --pid %d --nofile=" + limit, ProcessBuilder.Redirect.PIPE);
        try {
            String lowered = roomFor(2) + ":" + limit.split(":")[1];
            assertEquals(
                    0,
                    sh("exec prlimit --pid %d --nofile=" + lowered, ProcessBuilder.Redirect.INHERIT)
                            .waitFor());
            e = assertThrows(SysException.class, builder::build);
        } finally {
            restorer.getOutputStream().close();
            assertEquals(0, restorer.waitFor(), "the limit is restored");
        }
        assertTrue(e.is(Errno.EMFILE), e.getMessage());
        assertTrue(e.getMessage().startsWith("memfd_create(guest-ram-3): EMFILE"), e.getMessage());
        assertEquals("", OpenFds.leakedSince(before), "the two memfds made and the one taken are closed");
        assertFalse(theirs.isOpen(), "the builder took the front-end's fd");
        assertTrue(e.getMessage().contains("raise the open files limit"), e.getMessage());
    }

    /** An open-files limit that leaves exactly {@code free} descriptor numbers unused below it. */
    private static int roomFor(int free) {
        Set<Integer> open = OpenFds.snapshot();
        open.removeIf(fd -> !Files.exists(Path.of("/proc/self/fd/" + fd))); // the listing's own, closed by now
        int limit = 0;
        for (int left = free; left > 0; limit++) {
            if (!open.contains(limit)) {
                left--;
            }
        }
        return limit;
    }

    /** This process's {@code RLIMIT_NOFILE} as {@code soft:hard}. */
    private static String softAndHardLimit() throws IOException {
        Matcher m = Pattern.compile("Max open files\\s+(\\d+)\\s+(\\d+)")
                .matcher(Files.readString(Path.of("/proc/self/limits")));
        assertTrue(m.find());
        return m.group(1) + ":" + m.group(2);
    }

    /** Starts {@code sh -c script}, {@code %d} being this process's pid; only its standard input may be a pipe. */
    private static Process sh(String script, ProcessBuilder.Redirect input) throws IOException {
        return new ProcessBuilder(List.of(
                        "sh",
                        "-c",
                        String.format(script, ProcessHandle.current().pid())))
                .redirectInput(input)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }
}
