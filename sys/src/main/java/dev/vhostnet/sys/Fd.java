package dev.vhostnet.sys;

import com.google.common.base.Preconditions;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * An owned file descriptor. Close is idempotent (a state flipped once by CAS, as Netty's
 * {@code FileDescriptor}); any use after close throws {@link IllegalStateException} instead of
 * reaching a number the kernel may already have given to another file. The raw number leaves
 * only through {@link #get()}, to pass it to another call or process.
 */
public final class Fd implements AutoCloseable {
    /**
     * Native memory per thread for the 8-byte reads, writes and the {@code struct pollfd} of the
     * calls a driver or device makes per batch: a JNA {@code Structure} or a primitive array argument
     * would cost a {@code malloc} and {@code free} (and a Structure its making and cleaner) per call,
     * which perf in the test VM showed above the system call itself.
     */
    private static final ThreadLocal<Memory> SCRATCH = ThreadLocal.withInitial(() -> new Memory(16));

    private static final AtomicIntegerFieldUpdater<Fd> CLOSED =
            AtomicIntegerFieldUpdater.newUpdater(Fd.class, "closed");

    private final int fd;
    private final String what;
    private volatile int closed;

    private Fd(int fd, String what) {
        this.fd = fd;
        this.what = what;
    }

    /** Takes ownership of a descriptor this process already has (from another call or process). */
    public static Fd adopt(int fd, String what) {
        Preconditions.checkArgument(fd >= 0, "not a file descriptor: %s", fd);
        return new Fd(fd, Preconditions.checkNotNull(what, "what"));
    }

    /**
     * Takes over the descriptor a JDK {@link FileDescriptor} holds ({@code number}, e.g. from
     * junixsocket's {@code FileDescriptorCast}): an owned copy is made ({@code F_DUPFD_CLOEXEC}) and
     * the original closed through a {@link FileInputStream}, which marks {@code holder} invalid. So a
     * holder that closes what it still holds (junixsocket, the fds it received, when its socket
     * closes) cannot close the number again once the kernel has given it to another file.
     */
    public static Fd takeOver(FileDescriptor holder, int number, String what) throws SysException, IOException {
        Fd copy;
        try {
            copy = adopt(LibC.fcntl(number, Fcntl.F_DUPFD_CLOEXEC, 0), what);
        } catch (LastErrorException e) {
            throw Syscalls.failure("fcntl(" + what + ", F_DUPFD_CLOEXEC)", e, Hint.NONE);
        }
        try {
            new FileInputStream(holder).close();
        } catch (IOException | RuntimeException e) {
            copy.close();
            throw e;
        }
        return copy;
    }

    /** {@code open(2)} with {@code O_CLOEXEC} added. */
    public static Fd open(String path, int flags, Hint hint) throws SysException {
        try {
            return new Fd(LibC.open(path, flags | Fcntl.O_CLOEXEC, 0), path);
        } catch (LastErrorException e) {
            throw Syscalls.failure("open(" + path + ")", e, hint);
        }
    }

    /** The descriptor number, for a call that takes it; throws once closed. */
    public int get() {
        if (closed != 0) {
            throw new IllegalStateException(what + " (fd " + fd + ") is closed");
        }
        return fd;
    }

    /** What this descriptor refers to, e.g. {@code /dev/vhost-net}. */
    public String what() {
        return what;
    }

    public boolean isOpen() {
        return closed == 0;
    }

    /** An ioctl without argument; returns the call's result. */
    public int ioctl(Ioctl request) throws SysException {
        return ioctl(request, 0L);
    }

    /** An ioctl whose argument is a value (an int, an fd, a pointer-sized number). */
    public int ioctl(Ioctl request, long arg) throws SysException {
        try {
            return LibC.ioctl(get(), new NativeLong(request.number()), arg);
        } catch (LastErrorException e) {
            throw Syscalls.failure(callName(request), e, Hint.NONE);
        }
    }

    /** An ioctl on memory the caller has filled and will read back itself. */
    public int ioctl(Ioctl request, Pointer arg) throws SysException {
        try {
            return LibC.ioctl(get(), new NativeLong(request.number()), arg);
        } catch (LastErrorException e) {
            throw Syscalls.failure(callName(request), e, Hint.NONE);
        }
    }

    /** An ioctl on a struct: written to native memory before the call and read back after it. */
    public int ioctl(Ioctl request, Structure arg) throws SysException {
        arg.write();
        int rc = ioctl(request, arg.getPointer());
        arg.read();
        return rc;
    }

    /** {@code read(2)} into native memory; returns the bytes read (0 at end of file). */
    public long read(Pointer buf, long count) throws SysException {
        try {
            return LibC.read(get(), buf, count);
        } catch (LastErrorException e) {
            throw Syscalls.failure("read(" + what + ")", e, Hint.NONE);
        }
    }

    /** {@code write(2)} from native memory; returns the bytes written. */
    public long write(Pointer buf, long count) throws SysException {
        try {
            return LibC.write(get(), buf, count);
        } catch (LastErrorException e) {
            throw Syscalls.failure("write(" + what + ")", e, Hint.NONE);
        }
    }

    /** Reads one 8-byte value (an eventfd counter). */
    public long readU64() throws SysException {
        Memory value = SCRATCH.get();
        try {
            LibC.read(get(), value, 8);
        } catch (LastErrorException e) {
            throw Syscalls.failure("read(" + what + ")", e, Hint.NONE);
        }
        return value.getLong(0);
    }

    /** Writes one 8-byte value (adds to an eventfd counter). */
    public void writeU64(long value) throws SysException {
        Memory buf = SCRATCH.get();
        buf.setLong(0, value);
        try {
            LibC.write(get(), buf, 8);
        } catch (LastErrorException e) {
            throw Syscalls.failure("write(" + what + ")", e, Hint.NONE);
        }
    }

    /** {@code ftruncate(2)}. */
    public void truncate(long length) throws SysException {
        try {
            LibC.ftruncate(get(), length);
        } catch (LastErrorException e) {
            throw Syscalls.failure("ftruncate(" + what + ", " + length + ")", e, Hint.NONE);
        }
    }

    /**
     * A second descriptor for the same open file ({@code fcntl(F_DUPFD_CLOEXEC)}), owned by the
     * caller: the file stays open until both are closed — how a user of this file holds it
     * independently of its owner, as the kernel's {@code fget} does.
     */
    public Fd dup() throws SysException {
        try {
            return new Fd(LibC.fcntl(get(), Fcntl.F_DUPFD_CLOEXEC, 0), what);
        } catch (LastErrorException e) {
            throw Syscalls.failure("fcntl(" + what + ", F_DUPFD_CLOEXEC)", e, Hint.NONE);
        }
    }

    /** Whether {@code FD_CLOEXEC} is set ({@code fcntl(F_GETFD)}). */
    public boolean isCloseOnExec() throws SysException {
        try {
            return (LibC.fcntl(get(), Fcntl.F_GETFD, 0) & Fcntl.FD_CLOEXEC) != 0;
        } catch (LastErrorException e) {
            throw Syscalls.failure("fcntl(" + what + ", F_GETFD)", e, Hint.NONE);
        }
    }

    /**
     * Sets or clears {@code FD_CLOEXEC} ({@code fcntl(F_SETFD)}). Clearing it lets a child started
     * next inherit this descriptor (how fds are handed to QEMU); set it back once the child runs.
     */
    public void setCloseOnExec(boolean closeOnExec) throws SysException {
        try {
            LibC.fcntl(get(), Fcntl.F_SETFD, closeOnExec ? Fcntl.FD_CLOEXEC : 0);
        } catch (LastErrorException e) {
            throw Syscalls.failure("fcntl(" + what + ", F_SETFD)", e, Hint.NONE);
        }
    }

    /** Whether {@code O_NONBLOCK} is set ({@code fcntl(F_GETFL)}). */
    public boolean isNonBlocking() throws SysException {
        try {
            return (LibC.fcntl(get(), Fcntl.F_GETFL, 0) & Fcntl.O_NONBLOCK) != 0;
        } catch (LastErrorException e) {
            throw Syscalls.failure("fcntl(" + what + ", F_GETFL)", e, Hint.NONE);
        }
    }

    /**
     * {@code poll(2)} on this descriptor alone: waits up to {@code timeoutMillis} (negative: without
     * limit) for one of {@code events} ({@link PollUapi#POLLIN}…); returns the events that happened,
     * 0 on timeout. Restarts after {@code EINTR} with the full timeout.
     */
    public int poll(int events, int timeoutMillis) throws SysException {
        // struct pollfd in SCRATCH, at the offsets the header check compares with <poll.h>.
        Memory pfd = SCRATCH.get();
        while (true) {
            pfd.setInt(0, get());
            pfd.setShort(PollUapi.POLLFD_EVENTS, (short) events);
            pfd.setShort(PollUapi.POLLFD_REVENTS, (short) 0);
            try {
                if (LibC.poll(pfd, 1, timeoutMillis) == 0) {
                    return 0;
                }
                return pfd.getShort(PollUapi.POLLFD_REVENTS) & 0xffff;
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Errno.EINTR.number()) {
                    throw Syscalls.failure("poll(" + what + ")", e, Hint.NONE);
                }
            }
        }
    }

    /**
     * {@code poll(2)} on several descriptors: waits up to {@code timeoutMillis} (negative: without
     * limit) until one has one of {@code events}; returns the events of each, in order (all 0 on
     * timeout). Restarts after {@code EINTR}.
     */
    public static int[] pollAll(java.util.List<Fd> fds, int events, int timeoutMillis) throws SysException {
        PollUapi.PollFd[] set = (PollUapi.PollFd[]) new PollUapi.PollFd().toArray(fds.size());
        for (int i = 0; i < set.length; i++) {
            set[i].fd = fds.get(i).get();
            set[i].events = (short) events;
            set[i].write();
        }
        int[] revents = new int[set.length];
        while (true) {
            try {
                if (LibC.poll(set[0].getPointer(), set.length, timeoutMillis) > 0) {
                    for (int i = 0; i < set.length; i++) {
                        set[i].read();
                        revents[i] = set[i].revents & 0xffff;
                    }
                }
                return revents;
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Errno.EINTR.number()) {
                    throw Syscalls.failure("poll(" + fds.size() + " fds)", e, Hint.NONE);
                }
            }
        }
    }

    private String callName(Ioctl request) {
        return "ioctl " + request.name() + " on " + what;
    }

    /** Closes the descriptor once; later calls do nothing. */
    @Override
    public void close() {
        if (CLOSED.compareAndSet(this, 0, 1)) {
            try {
                LibC.close(fd);
            } catch (LastErrorException e) {
                // close(2) releases the descriptor even when it reports an error (EINTR, EIO):
                // nothing is left to retry or to leak.
            }
        }
    }

    @Override
    public String toString() {
        return "Fd[" + fd + " " + what + (closed != 0 ? ", closed" : "") + "]";
    }
}
