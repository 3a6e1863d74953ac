package dev.vhostnet.memtable;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.Range;
import com.google.common.collect.RangeMap;
import com.google.common.collect.TreeRangeMap;
import com.sun.jna.Memory;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi.VhostMemory;
import dev.vhostnet.sys.VhostUapi.VhostMemoryRegion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

/**
 * Guest RAM: an immutable set of {@link GuestRegion}s, GPA to HVA translation with bounds checks,
 * and the same table encoded for the kernel ({@code struct vhost_memory}; KVM memslots are made
 * from {@link #regions()}). Accessors check the table is open: after {@link #close()} they throw,
 * they never touch unmapped memory. Whatever hands the table's addresses to a kernel worker or
 * another thread (a vhost-net device, an event loop, a vhost-user back-end) holds a {@link Lease};
 * {@link #close()} refuses while one is held, naming the holders, so memory is never unmapped under
 * a running device (crosvm drops the vhost fd before guest memory for the same reason).
 */
public final class MemoryTable implements AutoCloseable {
    private final ImmutableList<GuestRegion> regions;
    /** The regions sorted by guest-physical address, with their starts: a lookup allocates nothing. */
    private final GuestRegion[] byGpa;

    private final long[] starts;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Guarded by {@code this}. */
    private final Set<Lease> leases = new LinkedHashSet<>();

    private MemoryTable(List<GuestRegion> regions) {
        this.regions = ImmutableList.copyOf(regions);
        this.byGpa = regions.stream()
                .sorted(Comparator.comparingLong(GuestRegion::gpa))
                .toArray(GuestRegion[]::new);
        this.starts = Arrays.stream(byGpa).mapToLong(GuestRegion::gpa).toArray();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The regions, in the order they were added (their slot numbers). */
    public ImmutableList<GuestRegion> regions() {
        checkOpen();
        return regions;
    }

    /**
     * The HVA of {@code [gpa, gpa + length)}, which must lie wholly inside one region: a range that
     * starts outside guest memory, crosses a region end (even into an adjacent region: the host
     * mappings are not contiguous) or wraps around 2^64 is rejected.
     */
    public long translate(long gpa, long length) {
        GuestRegion r = region(gpa, length);
        return r.hva() + (gpa - r.gpa());
    }

    /**
     * A direct buffer over {@code [gpa, gpa + length)}, which must lie wholly inside one region,
     * made once by a data path that then neither looks the address up nor calls native code per
     * access; valid only while this table is open ({@link GuestRegion#view}).
     */
    public ByteBuffer view(long gpa, int length) {
        GuestRegion r = region(gpa, length);
        return r.view(gpa - r.gpa(), length);
    }

    /** The region holding all of {@code [gpa, gpa + length)}. */
    public GuestRegion region(long gpa, long length) {
        checkOpen();
        if (length < 0) {
            throw new GuestAddressException(gpa, length, "has a negative length");
        }
        long end = gpa + length;
        if (Long.compareUnsigned(end, gpa) < 0) {
            throw new GuestAddressException(gpa, length, "wraps around the end of the address space");
        }
        GuestRegion r = gpa < 0 ? null : lookup(gpa);
        if (r == null) {
            throw new GuestAddressException(gpa, length, "starts outside guest memory");
        }
        if (Long.compareUnsigned(end, r.gpaEnd()) > 0) {
            throw new GuestAddressException(gpa, length, "crosses the end of " + r);
        }
        return r;
    }

    private GuestRegion lookup(long gpa) {
        int i = Arrays.binarySearch(starts, gpa);
        int index = i >= 0 ? i : -i - 2;
        return index >= 0 && gpa < byGpa[index].gpaEnd() ? byGpa[index] : null;
    }

    /** Whether {@code [gpa, gpa + length)} lies wholly inside one region. */
    public boolean contains(long gpa, long length) {
        try {
            region(gpa, length);
            return true;
        } catch (GuestAddressException e) {
            return false;
        }
    }

    public byte getByte(long gpa) {
        GuestRegion r = region(gpa, 1);
        return r.base().getByte(gpa - r.gpa());
    }

    public short getShort(long gpa) {
        GuestRegion r = region(gpa, 2);
        return r.base().getShort(gpa - r.gpa());
    }

    public int getInt(long gpa) {
        GuestRegion r = region(gpa, 4);
        return r.base().getInt(gpa - r.gpa());
    }

    public long getLong(long gpa) {
        GuestRegion r = region(gpa, 8);
        return r.base().getLong(gpa - r.gpa());
    }

    public void putByte(long gpa, byte value) {
        GuestRegion r = region(gpa, 1);
        r.base().setByte(gpa - r.gpa(), value);
    }

    public void putShort(long gpa, short value) {
        GuestRegion r = region(gpa, 2);
        r.base().setShort(gpa - r.gpa(), value);
    }

    public void putInt(long gpa, int value) {
        GuestRegion r = region(gpa, 4);
        r.base().setInt(gpa - r.gpa(), value);
    }

    public void putLong(long gpa, long value) {
        GuestRegion r = region(gpa, 8);
        r.base().setLong(gpa - r.gpa(), value);
    }

    /** Copies {@code length} bytes at {@code gpa} into {@code dst[offset..]}. */
    public void read(long gpa, byte[] dst, int offset, int length) {
        Preconditions.checkPositionIndexes(offset, offset + length, dst.length);
        GuestRegion r = region(gpa, length);
        r.base().read(gpa - r.gpa(), dst, offset, length);
    }

    /** Copies {@code src[offset..offset+length)} to guest memory at {@code gpa}. */
    public void write(long gpa, byte[] src, int offset, int length) {
        Preconditions.checkPositionIndexes(offset, offset + length, src.length);
        GuestRegion r = region(gpa, length);
        r.base().write(gpa - r.gpa(), src, offset, length);
    }

    /**
     * {@code struct vhost_memory} followed by one {@code vhost_memory_region} per region, in native
     * memory owned by the returned object: for the {@code VHOST_SET_MEM_TABLE} call only.
     */
    public Memory toVhostMemory() {
        checkOpen();
        Memory m = new Memory(VhostMemory.SIZE + (long) VhostMemoryRegion.SIZE * regions.size());
        m.clear();
        VhostMemory header = new VhostMemory();
        header.nregions = regions.size();
        header.write();
        m.write(0, header.getPointer().getByteArray(0, VhostMemory.SIZE), 0, VhostMemory.SIZE);
        for (int i = 0; i < regions.size(); i++) {
            GuestRegion r = regions.get(i);
            VhostMemoryRegion entry = new VhostMemoryRegion();
            entry.guest_phys_addr = r.gpa();
            entry.memory_size = r.size();
            entry.userspace_addr = r.hva();
            entry.write();
            byte[] bytes = entry.getPointer().getByteArray(0, VhostMemoryRegion.SIZE);
            m.write(VhostMemory.SIZE + (long) i * VhostMemoryRegion.SIZE, bytes, 0, bytes.length);
        }
        return m;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("guest memory is closed");
        }
    }

    /**
     * A use of the table by {@code holder} (e.g. "vhost-net device on tap vn0"): until the lease is
     * closed, {@link #close()} refuses. Fails if the table is closed.
     */
    public synchronized Lease lease(String holder) {
        checkOpen();
        Lease lease = new Lease(Preconditions.checkNotNull(holder, "holder"));
        leases.add(lease);
        return lease;
    }

    /**
     * Unmaps every region and closes its memfd; a second close does nothing. Refuses with the holders'
     * names while a {@link Lease} is held: close the devices first.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (!leases.isEmpty()) {
                throw new IllegalStateException("guest memory is still used by "
                        + leases.stream().map(Lease::holder).collect(Collectors.joining(", "))
                        + ": close them first (their kernel workers or threads would write into unmapped memory)");
            }
            if (!closed.compareAndSet(false, true)) {
                return;
            }
        }
        regions.forEach(GuestRegion::close);
    }

    /** A holder's use of the table; closing it (once; again does nothing) lets the table close. */
    public final class Lease implements AutoCloseable {
        private final String holder;
        private final AtomicBoolean released = new AtomicBoolean();

        private Lease(String holder) {
            this.holder = holder;
        }

        /** Who holds it. */
        public String holder() {
            return holder;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                synchronized (MemoryTable.this) {
                    leases.remove(this);
                }
            }
        }
    }

    /** Describes the regions, validates them together, then allocates and maps them. */
    public static final class Builder {
        /** A region to create, or ({@code fd} set) to map from {@code offset} of another process's fd. */
        private record Spec(long gpa, long size, Fd fd, long offset) {}

        private final List<Spec> specs = new ArrayList<>();
        private Backing backing = Backing.MEMFD;
        private int maxRegions = VhostLimits.maxMemRegions();

        private Builder() {}

        /** A region of {@code size} bytes at guest-physical {@code gpa}. */
        public Builder region(long gpa, long size) {
            specs.add(new Spec(gpa, size, null, 0));
            return this;
        }

        /**
         * A region of {@code size} bytes at guest-physical {@code gpa} mapped from {@code offset} of
         * {@code fd}, memory another process made (a vhost-user front-end's guest RAM). The table
         * takes {@code fd}: it is closed with the table, or by {@link #build()} if that fails.
         */
        public Builder mapped(long gpa, long size, Fd fd, long offset) {
            Preconditions.checkNotNull(fd, "fd");
            specs.add(new Spec(gpa, size, fd, offset));
            return this;
        }

        public Builder backing(Backing backing) {
            this.backing = Preconditions.checkNotNull(backing, "backing");
            return this;
        }

        /** Overrides the region limit read from the vhost module ({@link VhostLimits#maxMemRegions()}). */
        public Builder maxRegions(int maxRegions) {
            Preconditions.checkArgument(maxRegions > 0, "maxRegions must be positive: %s", maxRegions);
            this.maxRegions = maxRegions;
            return this;
        }

        /**
         * Validates the layout (no region empty, unaligned, overlapping or past 2^63; no more than
         * {@code max_mem_regions}), then creates the regions; on failure closes those it made.
         */
        public MemoryTable build() throws SysException {
            List<GuestRegion> made = new ArrayList<>();
            try {
                validate();
                if (backing == Backing.HUGETLB) {
                    HugePages.check(specs.stream()
                            .filter(s -> s.fd() == null)
                            .mapToLong(Spec::size)
                            .sum());
                }
                for (Spec s : specs) {
                    made.add(
                            s.fd() == null
                                    ? GuestRegion.create(made.size(), s.gpa(), s.size(), backing)
                                    : GuestRegion.map(made.size(), s.gpa(), s.size(), s.fd(), s.offset()));
                }
                return new MemoryTable(made);
            } catch (SysException | RuntimeException e) {
                made.forEach(GuestRegion::close);
                specs.stream().map(Spec::fd).filter(fd -> fd != null).forEach(Fd::close);
                throw e;
            }
        }

        private void validate() {
            Preconditions.checkArgument(!specs.isEmpty(), "guest memory needs at least one region");
            Preconditions.checkArgument(
                    specs.size() <= maxRegions,
                    "%s regions, but the vhost module takes at most %s (max_mem_regions): merge regions, "
                            + "or raise it with 'modprobe vhost max_mem_regions=N'",
                    specs.size(),
                    maxRegions);
            long page = backing.pageSize();
            RangeMap<Long, Spec> seen = TreeRangeMap.create();
            for (Spec s : specs) {
                String name = String.format("region [gpa 0x%x, +0x%x)", s.gpa(), s.size());
                Preconditions.checkArgument(s.size() > 0, "%s is empty", name);
                Preconditions.checkArgument(
                        s.gpa() >= 0 && s.gpa() + s.size() > s.gpa(),
                        "%s lies beyond the 2^63 guest-physical addresses this library supports",
                        name);
                Preconditions.checkArgument(
                        s.gpa() % page == 0 && s.size() % page == 0 && s.offset() % page == 0,
                        "%s is not aligned to the %s-byte pages of %s",
                        name,
                        page,
                        backing);
                Preconditions.checkArgument(s.offset() >= 0, "%s has a negative file offset", name);
                Range<Long> range = Range.closedOpen(s.gpa(), s.gpa() + s.size());
                RangeMap<Long, Spec> overlap = seen.subRangeMap(range);
                if (!overlap.asMapOfRanges().isEmpty()) {
                    Spec other = overlap.asMapOfRanges().values().iterator().next();
                    throw new IllegalArgumentException(
                            String.format("%s overlaps region [gpa 0x%x, +0x%x)", name, other.gpa(), other.size()));
                }
                seen.put(range, s);
            }
        }
    }
}
