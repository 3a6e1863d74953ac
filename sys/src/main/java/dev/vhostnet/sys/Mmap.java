package dev.vhostnet.sys;

import com.google.common.base.Preconditions;
import com.sun.jna.LastErrorException;
import com.sun.jna.Pointer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An owned {@code mmap(2)} mapping, unmapped once on {@link #close()}. Its address is handed to
 * the kernel (vhost memory table, KVM memslots), so it must not move or be freed by the GC:
 * never use JNA {@code Memory} for such memory.
 */
public final class Mmap implements AutoCloseable {
    private final long address;
    private final long length;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Mmap(long address, long length, String what) {
        this.address = address;
        this.length = length;
        this.what = what;
    }

    /** Maps {@code length} bytes of {@code fd} at {@code offset}. */
    public static Mmap map(Fd fd, long length, int prot, int flags, long offset) throws SysException {
        return map(fd.get(), fd.what(), length, prot, flags, offset);
    }

    /** An anonymous mapping ({@code MAP_ANONYMOUS} is added). */
    public static Mmap anonymous(long length, int prot, int flags) throws SysException {
        return map(-1, "anonymous", length, prot, flags | Mman.MAP_ANONYMOUS, 0);
    }

    private static Mmap map(int fd, String what, long length, int prot, int flags, long offset) throws SysException {
        Preconditions.checkArgument(length > 0, "mapping length must be positive: %s", length);
        try {
            return new Mmap(LibC.mmap(0, length, prot, flags, fd, offset), length, what);
        } catch (LastErrorException e) {
            throw Syscalls.failure(
                    "mmap(" + what + ", " + length + " bytes)",
                    e,
                    errno -> errno == Errno.ENOMEM.number() && (flags & Mman.MAP_HUGETLB) != 0
                            ? "not enough free huge pages: raise /proc/sys/vm/nr_hugepages"
                            : null);
        }
    }

    /** The start address in this process; throws once unmapped. */
    public long address() {
        if (closed.get()) {
            throw new IllegalStateException(what + " mapping is unmapped");
        }
        return address;
    }

    public long length() {
        return length;
    }

    public boolean isMapped() {
        return !closed.get();
    }

    /** A JNA pointer to the start of the mapping. */
    public Pointer pointer() {
        return new Pointer(address());
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                LibC.munmap(address, length);
            } catch (LastErrorException e) {
                throw new IllegalStateException("munmap(" + what + ") failed: " + Errno.nameOf(e.getErrorCode()), e);
            }
        }
    }
}
