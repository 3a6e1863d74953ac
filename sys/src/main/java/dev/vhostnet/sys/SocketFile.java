package dev.vhostnet.sys;

import com.google.common.base.Preconditions;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;

/**
 * The file a listening Unix socket is bound to: the one path rule of every listener in the project
 * (the broker, the vhost-user back-end and front-end in server mode).
 *
 * <ul>
 *   <li>At the path, only a stale socket (one no process listens on: {@code connect} is refused) is
 *       replaced, as QEMU's {@code server=on} chardev and libvirt's {@code virNetSocketNewListenUNIX}
 *       do. A live socket, a symbolic link (dangling or not), a regular file, a FIFO, a directory or
 *       a device is refused and left as it is.</li>
 *   <li>The socket is bound in a fresh directory of its own (mode 0700, reached through its
 *       descriptor, so it cannot be swapped for a link), given its mode and group there, and only
 *       then moved to the path with {@code renameat2(RENAME_NOREPLACE)}: no {@code chmod} ever
 *       follows a link, the socket is never reachable with the wrong mode, and nothing that
 *       appeared at the path meanwhile is replaced.</li>
 *   <li>{@link #close()} removes the file only while it is still this socket (same inode), never
 *       what another process put there since.</li>
 * </ul>
 */
public final class SocketFile implements AutoCloseable {
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final String BOUND_NAME = "socket";

    private final Path path;
    private final String inode;
    private final boolean replacedStale;
    /** False for a socket another process made (systemd's, for socket activation): close leaves it. */
    private final boolean owned;

    private volatile boolean closed;

    /** Binds the listening socket to {@code where} (a path inside the private directory). */
    @FunctionalInterface
    public interface Binder {
        void bind(Path where) throws IOException;
    }

    /** The socket file's mode and group; empty: as {@code bind(2)} made it (umask, the process's group). */
    public record Access(Optional<Set<PosixFilePermission>> mode, Optional<String> group) {
        /** As {@code bind(2)} makes it. */
        public static final Access DEFAULT = new Access(Optional.empty(), Optional.empty());

        public Access {
            Preconditions.checkNotNull(mode, "mode");
            Preconditions.checkNotNull(group, "group");
            mode = mode.map(Set::copyOf);
        }

        /**
         * From the command line: {@code mode} as {@code ls -l} shows it ({@code rw-rw----}) or in
         * octal ({@code 0660}); {@code group} a name or a gid, or {@code null} for the process's own.
         */
        public static Access of(String mode, String group) {
            Preconditions.checkArgument(group == null || !group.isEmpty(), "socket group must not be empty");
            return new Access(Optional.of(parseMode(mode)), Optional.ofNullable(group));
        }

        /** {@code rw-rw----} or {@code 0660} (permission bits only: no setuid, setgid or sticky bit). */
        public static Set<PosixFilePermission> parseMode(String mode) {
            if (mode.matches("0?[0-7]{3}")) {
                int bits = Integer.parseInt(mode, 8);
                StringBuilder symbolic = new StringBuilder();
                for (int shift = 6; shift >= 0; shift -= 3) {
                    int rwx = bits >> shift;
                    symbolic.append((rwx & 4) != 0 ? 'r' : '-')
                            .append((rwx & 2) != 0 ? 'w' : '-')
                            .append((rwx & 1) != 0 ? 'x' : '-');
                }
                mode = symbolic.toString();
            }
            try {
                return PosixFilePermissions.fromString(mode);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "socket mode " + mode + ": give it as ls -l shows it (rw-rw----) or in octal (0660)", e);
            }
        }
    }

    private SocketFile(Path path, String inode, boolean replacedStale) {
        this(path, inode, replacedStale, true);
    }

    private SocketFile(Path path, String inode, boolean replacedStale, boolean owned) {
        this.path = path;
        this.inode = inode;
        this.replacedStale = replacedStale;
        this.owned = owned;
    }

    /**
     * Checks what is at {@code path} (see the class comment), binds a socket with {@code binder}
     * and puts it at {@code path} with {@code access}. On failure nothing is left at the path but
     * what was there before (less a stale socket), and the caller closes its socket.
     */
    public static SocketFile bind(Path path, Access access, Binder binder) throws IOException {
        Path absolute = path.toAbsolutePath();
        boolean stale = removeStale(absolute);
        Path parent = absolute.getParent();
        Path privateDir;
        try {
            privateDir = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".bind-");
        } catch (IOException e) {
            throw new SysException(
                    "mkdir(" + parent + "/." + absolute.getFileName() + ".bind-*)",
                    Errno.EACCES.number(),
                    e.getMessage() + ": is the directory there and writable?");
        }
        try (Fd dir =
                Fd.open(privateDir.toString(), Fcntl.O_RDONLY | Fcntl.O_DIRECTORY | Fcntl.O_NOFOLLOW, Hint.NONE)) {
            Path bound = Path.of("/proc/self/fd", Integer.toString(dir.get()), BOUND_NAME);
            try {
                checkPrivate(bound.getParent(), privateDir);
                binder.bind(bound);
                if (access.mode().isPresent()) {
                    // chmod(2) by path: only this user can make entries in the private directory, so
                    // the name is the socket just bound (the JDK's no-follow variant opens the file,
                    // which a socket refuses with ENXIO).
                    Files.setPosixFilePermissions(bound, access.mode().get());
                }
                if (access.group().isPresent()) {
                    setGroup(bound, access.group().get());
                }
                String inode = identity(bound);
                Syscalls.renameNoReplace(dir, BOUND_NAME, absolute.toString());
                return new SocketFile(absolute, inode, stale);
            } finally {
                Files.deleteIfExists(bound);
            }
        } finally {
            Files.deleteIfExists(privateDir);
        }
    }

    /**
     * The socket file of a listening socket this process inherited (systemd's socket activation: the
     * unit's {@code SocketMode=} and {@code SocketGroup=} made it): {@link #isInPlace} watches it as
     * for a socket bound here, and {@link #close} leaves it to its maker.
     */
    public static SocketFile inherited(Path path) throws SysException {
        Path absolute = path.toAbsolutePath();
        try {
            int mode = (int) Files.getAttribute(absolute, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new SysException(
                        "stat(" + absolute + ")",
                        Errno.ENOTSOCK.number(),
                        "the inherited socket's path is " + kind(mode) + ", not the socket");
            }
            return new SocketFile(absolute, identity(absolute), false, false);
        } catch (SysException e) {
            throw e;
        } catch (IOException e) {
            throw new SysException(
                    "stat(" + absolute + ")",
                    Errno.ENOENT.number(),
                    "the inherited socket's file is not there: " + e.getMessage());
        }
    }

    /** Device and inode: what tells this socket from a file put at its path later. */
    private static String identity(Path p) throws IOException {
        java.util.Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
        return a.get("dev") + ":" + a.get("ino");
    }

    /** Removes a stale socket at {@code path}; refuses a live one and anything that is not a socket. */
    private static boolean removeStale(Path path) throws SysException {
        String call = "bind(" + path + ")";
        int mode;
        try {
            mode = (int) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw new SysException(call, Errno.EACCES.number(), "cannot inspect the path: " + e.getMessage());
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new SysException(
                    call,
                    Errno.EEXIST.number(),
                    "the path exists and is not a socket (" + kind(mode)
                            + "): remove it or listen elsewhere; only a stale socket is replaced");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.configureBlocking(false);
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new SysException(
                    call, Errno.EADDRINUSE.number(), "another process already serves this socket: stop it first");
        } catch (ConnectException e) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException deleting) {
                throw new SysException(
                        call, Errno.EACCES.number(), "removing the stale socket: " + deleting.getMessage());
            }
            return true;
        } catch (SysException e) {
            throw e;
        } catch (IOException e) {
            throw new SysException(
                    call,
                    Errno.EADDRINUSE.number(),
                    "cannot tell whether a process serves this socket: " + e.getMessage());
        }
    }

    private static String kind(int mode) {
        return switch (mode & S_IFMT) {
            case 0120000 -> "a symbolic link";
            case 0100000 -> "a regular file";
            case 0040000 -> "a directory";
            case 0010000 -> "a FIFO";
            case 0020000 -> "a character device";
            case 0060000 -> "a block device";
            default -> "file type 0" + Integer.toOctalString(mode & S_IFMT);
        };
    }

    /** The directory behind the descriptor is the one just made: owned by this user, for this user alone. */
    private static void checkPrivate(Path fdPath, Path privateDir) throws IOException {
        int uid = (int) Files.getAttribute(fdPath, "unix:uid");
        int mode = (int) Files.getAttribute(fdPath, "unix:mode");
        if (uid != Syscalls.geteuid() || (mode & 077) != 0) {
            throw new SysException(
                    "open(" + privateDir + ")",
                    Errno.EACCES.number(),
                    "the private directory was replaced (owner " + uid + ", mode 0"
                            + Integer.toOctalString(mode & 07777) + "): another user can write to "
                            + privateDir.getParent());
        }
    }

    private static void setGroup(Path bound, String group) throws IOException {
        GroupPrincipal principal;
        try {
            principal = bound.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new SysException(
                    "getgrnam(" + group + ")", Errno.ENOENT.number(), "no such group: give a group name or gid");
        }
        Files.getFileAttributeView(bound, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setGroup(principal);
    }

    /** Where the socket is. */
    public Path path() {
        return path;
    }

    /** Whether a stale socket was removed from the path before binding. */
    public boolean replacedStale() {
        return replacedStale;
    }

    /** Whether the path still leads to this socket (not removed, moved away or replaced). */
    public boolean isInPlace() {
        try {
            return !closed && inode.equals(identity(path));
        } catch (IOException e) {
            return false;
        }
    }

    /** Removes the file if it is still this socket and this process made it. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        boolean ours = owned && isInPlace();
        closed = true;
        if (ours) {
            Files.deleteIfExists(path);
        }
    }

    @Override
    public String toString() {
        return "SocketFile[" + path + "]";
    }
}
