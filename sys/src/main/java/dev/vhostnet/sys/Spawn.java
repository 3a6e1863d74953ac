package dev.vhostnet.sys;

import com.google.common.collect.ImmutableSet;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.StringArray;
import com.sun.jna.ptr.IntByReference;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Starts a program that inherits chosen descriptors, as libvirt starts QEMU with {@code fd=} and
 * {@code vhostfd=}: {@code posix_spawnp(3)} with stdin, stdout and stderr, the descriptors passed and
 * nothing else. {@link ProcessBuilder} cannot do this: its child closes every descriptor above 2.
 * The passed descriptors keep their numbers; their {@code FD_CLOEXEC} is cleared for the spawn and set
 * again after it. Descriptors of this JVM without {@code FD_CLOEXEC} are closed in the child.
 */
public final class Spawn {
    /** Room for glibc's {@code posix_spawn_file_actions_t} (80 bytes on x86-64). */
    private static final int FILE_ACTIONS_SIZE = 256;

    private Spawn() {}

    /** A started child: its pid, and {@link #waitFor()}. */
    public record Child(int pid) {
        /** Waits for the child to end: its exit status, or 128 + the signal that ended it (as a shell reports it). */
        public int waitFor() throws SysException {
            IntByReference status = new IntByReference();
            while (true) {
                try {
                    LibC.waitpid(pid, status, 0);
                    break;
                } catch (LastErrorException e) {
                    if (e.getErrorCode() != Errno.EINTR.number()) {
                        throw Syscalls.failure("waitpid(" + pid + ")", e, Hint.NONE);
                    }
                }
            }
            int s = status.getValue();
            return (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
        }
    }

    /**
     * Starts {@code command} (the program found on {@code PATH}) with environment {@code env}; the
     * child inherits descriptors 0, 1, 2 and {@code inherit}, under the same numbers.
     */
    public static Child start(List<String> command, Map<String, String> env, Collection<Fd> inherit)
            throws SysException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command to start");
        }
        Set<Integer> passed = inherit.stream().map(Fd::get).collect(ImmutableSet.toImmutableSet());
        Memory actions = new Memory(FILE_ACTIONS_SIZE);
        check(LibC.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
        List<Fd> cleared = new ArrayList<>();
        try {
            for (int fd : leakingDescriptors(passed)) {
                check(
                        LibC.posix_spawn_file_actions_addclose(actions, fd),
                        "posix_spawn_file_actions_addclose(" + fd + ")");
            }
            for (Fd fd : inherit) {
                fd.setCloseOnExec(false);
                cleared.add(fd);
            }
            IntByReference pid = new IntByReference();
            String[] envp = env.entrySet().stream()
                    .map(e -> e.getKey() + "=" + e.getValue())
                    .toArray(String[]::new);
            int error = LibC.posix_spawnp(
                    pid,
                    command.get(0),
                    actions,
                    null,
                    new StringArray(command.toArray(String[]::new)),
                    new StringArray(envp));
            if (error != 0) {
                throw new SysException(
                        "posix_spawnp(" + command.get(0) + ")",
                        error,
                        error == Errno.ENOENT.number()
                                ? "no such program on PATH: install it or give its full path"
                                : null);
            }
            return new Child(pid.getValue());
        } finally {
            for (Fd fd : cleared) {
                fd.setCloseOnExec(true);
            }
            LibC.posix_spawn_file_actions_destroy(actions);
        }
    }

    /** Descriptors above 2 that a child would inherit and should not: open, without {@code FD_CLOEXEC}, not passed. */
    private static List<Integer> leakingDescriptors(Set<Integer> passed) throws SysException {
        List<Integer> open = new ArrayList<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : fds) {
                open.add(Integer.parseInt(p.getFileName().toString()));
            }
        } catch (IOException e) {
            throw new SysException("opendir(/proc/self/fd)", Errno.ENOENT.number(), "mount /proc");
        }
        List<Integer> leaking = new ArrayList<>();
        for (int fd : open) {
            if (fd > 2 && !passed.contains(fd)) {
                try {
                    if ((LibC.fcntl(fd, Fcntl.F_GETFD, 0) & Fcntl.FD_CLOEXEC) == 0) {
                        leaking.add(fd);
                    }
                } catch (LastErrorException e) {
                    // closed since it was listed (the directory's own descriptor)
                }
            }
        }
        return leaking;
    }

    private static void check(int error, String call) throws SysException {
        if (error != 0) {
            throw new SysException(call, error, null);
        }
    }
}
