package dev.vhostnet.memtable;

import com.google.common.base.Preconditions;
import com.sun.jna.Pointer;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Mman;
import dev.vhostnet.sys.Mmap;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One region of guest RAM: a memfd mapped {@code MAP_SHARED} at a fixed address of this process
 * (its HVA, which the vhost worker and KVM use), placed at a guest-physical address. Owned by its
 * {@link MemoryTable}. Made here ({@link Backing}) or mapped from another process's fd.
 */
public final class GuestRegion {
    private final int slot;
    private final long gpa;
    private final long size;
    private final Fd memfd;
    private final Mmap mapping;
    private final Pointer base;

    private GuestRegion(int slot, long gpa, long size, Fd memfd, Mmap mapping) {
        this.slot = slot;
        this.gpa = gpa;
        this.size = size;
        this.memfd = memfd;
        this.mapping = mapping;
        this.base = mapping.pointer();
    }

    static GuestRegion create(int slot, long gpa, long size, Backing backing) throws SysException {
        Fd memfd = Syscalls.memfdCreate("guest-ram-" + slot, backing.memfdFlags());
        try {
            memfd.truncate(size);
            Mmap mapping = Mmap.map(memfd, size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, 0);
            return new GuestRegion(slot, gpa, size, memfd, mapping);
        } catch (SysException | RuntimeException e) {
            memfd.close();
            if (e instanceof SysException se && backing == Backing.HUGETLB) {
                throw se.withHint("no huge pages to back " + size + " bytes: raise /proc/sys/vm/nr_hugepages");
            }
            throw e;
        }
    }

    /**
     * Maps {@code size} bytes of {@code fd} from {@code offset}, {@code MAP_SHARED}: memory another
     * process made (a vhost-user front-end's guest RAM). The region takes {@code fd}, also on failure.
     * The fd must hold the whole range: touching a mapping past the end of its file is SIGBUS.
     */
    static GuestRegion map(int slot, long gpa, long size, Fd fd, long offset) throws SysException {
        try {
            long fileSize = fileSize(fd);
            if (Long.compareUnsigned(offset + size, fileSize) > 0 || offset + size < offset) {
                throw new IllegalArgumentException(String.format(
                        "region [gpa 0x%x, +0x%x) at offset 0x%x of %s "
                                + "reaches past the end of its file (0x%x bytes)",
                        gpa, size, offset, fd.what(), fileSize));
            }
            Mmap mapping = Mmap.map(fd, size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, offset);
            return new GuestRegion(slot, gpa, size, fd, mapping);
        } catch (SysException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The size of the file behind {@code fd}, as {@code fstat(2)} sees it through {@code /proc/self/fd}. */
    private static long fileSize(Fd fd) {
        try {
            return Files.size(Path.of("/proc/self/fd/" + fd.get()));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot tell the size of " + fd.what() + ": " + e.getMessage(), e);
        }
    }

    /** The index of this region in its table, also its KVM memslot number. */
    public int slot() {
        return slot;
    }

    /** Guest-physical address of the first byte. */
    public long gpa() {
        return gpa;
    }

    /** Guest-physical address one past the last byte. */
    public long gpaEnd() {
        return gpa + size;
    }

    public long size() {
        return size;
    }

    /** Host virtual address of the first byte, in this process. */
    public long hva() {
        return mapping.address();
    }

    /** The fd behind the region, to share it (vhost-user, another process). */
    public Fd memfd() {
        return memfd;
    }

    /**
     * A direct buffer over {@code [offset, offset + length)} of this region, made once by a data
     * path that copies with {@code ByteBuffer} bulk puts (no per-copy allocation, no
     * {@code Unsafe}); valid only while the table is open: unmapped memory is SIGSEGV.
     */
    public ByteBuffer view(long offset, int length) {
        Preconditions.checkArgument(
                offset >= 0 && length >= 0 && offset + length <= size,
                "[0x%s, +%s) is not inside %s",
                Long.toHexString(offset),
                length,
                this);
        return base.getByteBuffer(offset, length);
    }

    Pointer base() {
        return base;
    }

    boolean isMapped() {
        return mapping.isMapped();
    }

    void close() {
        mapping.close();
        memfd.close();
    }

    @Override
    public String toString() {
        return String.format("region %d [gpa 0x%x, +0x%x)", slot, gpa, size);
    }
}
