package dev.vhostnet.sys;

import java.io.File;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** The descriptors this process has open, from {@code /proc/self/fd}, to show a failure leaked none. */
public final class OpenFds {
    static {
        // JNA opens files of its own the first time it binds natives (libffi's closure file,
        // /dev/urandom): bind them now, so the first snapshot is not taken before they exist.
        try (Fd warmUp = Syscalls.eventfd(0, 0)) {
            warmUp.get();
        } catch (SysException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private OpenFds() {}

    /** The open descriptor numbers now. */
    public static Set<Integer> snapshot() {
        String[] names = new File("/proc/self/fd").list();
        return Arrays.stream(names).map(Integer::valueOf).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Descriptors open now that were not in {@code before}, with what they point to. */
    public static String leakedSince(Set<Integer> before) {
        Set<Integer> now = snapshot();
        now.removeAll(before);
        now.removeIf(fd -> !new File("/proc/self/fd/" + fd).exists());
        return now.stream().map(fd -> fd + " -> " + target(fd)).collect(Collectors.joining(", "));
    }

    private static String target(int fd) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd))
                    .toString();
        } catch (java.io.IOException e) {
            return "?";
        }
    }
}
