package dev.vhostnet.sys;

import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** The descriptors this process has open, from {@code /proc/self/fd}, to show a failure leaked none. */
public final class OpenFds {
    static {
        // JNA opens files of its own the first time it binds natives (libffi's closure file,
        // /dev/urandom): bind them now, so the first snapshot is not taken before they exist.
        // The JDK's NIO keeps a socketpair for the process's life from its first socket channel
        // (sun.nio.ch.UnixDispatcher.init, on JDK 25 not before then): make it now too.
        try (Fd warmUp = Syscalls.eventfd(0, 0);
                SocketChannel nio = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            warmUp.get();
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private OpenFds() {}

    /** The open descriptor numbers now. */
    public static Set<Integer> snapshot() {
        String[] names = new File("/proc/self/fd").list();
        return Arrays.stream(names).map(Integer::valueOf).collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * Descriptors open that were not in {@code before}, with what they point to, once they have had
     * up to 2 s to close: descriptors of this process that another thread holds for a moment (the
     * JDK's pipes to a child it is starting, a process reaper closing a child's pipes) are not a
     * leak; one still open after that is.
     */
    public static String leakedSince(Set<Integer> before) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        Set<Integer> now = opened(before);
        while (!now.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            now = opened(before);
        }
        return now.stream().map(fd -> fd + " -> " + target(fd)).collect(Collectors.joining(", "));
    }

    private static Set<Integer> opened(Set<Integer> before) {
        Set<Integer> now = snapshot();
        now.removeAll(before);
        now.removeIf(fd -> !new File("/proc/self/fd/" + fd).exists());
        return now;
    }

    private static String target(int fd) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd))
                    .toString();
        } catch (IOException e) {
            return "?";
        }
    }
}
