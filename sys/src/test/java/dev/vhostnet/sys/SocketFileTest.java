package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketFileTest {
    @TempDir
    Path dir;

    private Path path;
    private final List<ServerSocketChannel> servers = new ArrayList<>();

    @BeforeEach
    void setUp() {
        path = dir.resolve("s.sock");
    }

    @AfterEach
    void closeServers() throws IOException {
        for (ServerSocketChannel s : servers) {
            s.close();
        }
    }

    private SocketFile bind(SocketFile.Access access) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        servers.add(server);
        return SocketFile.bind(path, access, where -> server.bind(UnixDomainSocketAddress.of(where)));
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private void assertRefusedAndUntouched(String what) throws Exception {
        Set<Path> before = listing();
        SysException e = assertThrows(SysException.class, () -> bind(SocketFile.Access.DEFAULT));
        assertTrue(e.is(Errno.EEXIST), e.getMessage());
        assertTrue(e.getMessage().contains("not a socket (" + what + ")"), e.getMessage());
        assertEquals(before, listing(), "the directory changed");
    }

    private Set<Path> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return Set.copyOf(s.toList());
        }
    }

    @Test
    void refusesARegularFileAndLeavesIt() throws Exception {
        Files.writeString(path, "precious");
        assertRefusedAndUntouched("a regular file");
        assertEquals("precious", Files.readString(path));
    }

    @Test
    void refusesADirectoryAFifoAndLinksDanglingOrNot() throws Exception {
        Files.createDirectory(path);
        assertRefusedAndUntouched("a directory");
        Files.delete(path);
        new ProcessBuilder("mkfifo", path.toString()).start().waitFor();
        assertRefusedAndUntouched("a FIFO");
        Files.delete(path);
        Files.createSymbolicLink(path, dir.resolve("nowhere"));
        assertRefusedAndUntouched("a symbolic link");
        Files.delete(path);
        Path target = Files.writeString(dir.resolve("root-owned"), "x");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
        Files.createSymbolicLink(path, target);
        assertRefusedAndUntouched("a symbolic link");
        assertEquals("rw-------", mode(target));
    }

    @Test
    void setsModeAndGroupBeforeTheSocketAppearsAndRemovesOnlyItsOwnFile() throws Exception {
        Set<Path> before = listing();
        try (SocketFile file = bind(new SocketFile.Access(
                Optional.of(PosixFilePermissions.fromString("rw-rw----")), Optional.of("65534")))) {
            assertEquals("rw-rw----", mode(path));
            assertEquals(65534, (int) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS));
            assertTrue(file.isInPlace());
            assertFalse(file.replacedStale());
            assertEquals(before.size() + 1, listing().size(), "the private directory was left behind: " + listing());
            // the file is replaced by someone else's: close leaves that one alone
            Files.delete(path);
            Files.writeString(path, "someone else's");
            assertFalse(file.isInPlace());
        }
        assertEquals("someone else's", Files.readString(path));
    }

    @Test
    void takesTheModeFromTheCommandLineAsLsShowsItOrInOctal() throws Exception {
        try (SocketFile file = bind(SocketFile.Access.of("0640", "65534"))) {
            assertEquals("rw-r-----", mode(path));
            assertEquals(65534, (int) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS));
        }
        assertEquals(PosixFilePermissions.fromString("rw-rw-rw-"), SocketFile.Access.parseMode("666"));
        assertEquals(PosixFilePermissions.fromString("rw-rw----"), SocketFile.Access.parseMode("rw-rw----"));
        for (String bad : List.of("4755", "0999", "rw-rw", "u=rw")) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> SocketFile.Access.parseMode(bad));
            assertTrue(e.getMessage().contains("(rw-rw----) or in octal (0660)"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> SocketFile.Access.of("0660", ""));
    }

    @Test
    void replacesAStaleSocketAndRefusesALiveOne() throws Exception {
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "a stale socket file, as a process that died leaves");
        try (SocketFile file = bind(SocketFile.Access.DEFAULT)) {
            assertTrue(file.replacedStale());
            SysException live = assertThrows(SysException.class, () -> bind(SocketFile.Access.DEFAULT));
            assertTrue(live.is(Errno.EADDRINUSE), live.getMessage());
            assertTrue(file.isInPlace(), "the live socket was touched");
        }
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "close left the socket file");
    }

    @Test
    void anUnknownGroupFailsAndLeavesNothing() throws Exception {
        Set<Path> before = listing();
        SysException e = assertThrows(
                SysException.class,
                () -> bind(new SocketFile.Access(Optional.empty(), Optional.of("no-such-group-xyz"))));
        assertTrue(e.getMessage().contains("no such group"), e.getMessage());
        assertEquals(before, listing());
    }

    @Test
    void closesEveryDescriptorItOpens() throws Exception {
        bind(SocketFile.Access.DEFAULT).close();
        Set<Integer> fds = OpenFds.snapshot();
        for (int i = 0; i < 5; i++) {
            bind(SocketFile.Access.DEFAULT).close();
            Files.writeString(path, "x");
            assertThrows(SysException.class, () -> bind(SocketFile.Access.DEFAULT));
            Files.delete(path);
        }
        closeServers();
        servers.clear();
        assertEquals("", OpenFds.leakedSince(fds));
    }
}
