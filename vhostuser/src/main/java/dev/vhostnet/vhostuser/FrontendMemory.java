package dev.vhostnet.vhostuser;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import java.util.List;

/**
 * A front-end's guest RAM as this back-end sees it ({@code VHOST_USER_SET_MEM_TABLE}): each region
 * mapped {@code MAP_SHARED} from the fd that came with it, at its mmap offset, as a
 * {@link MemoryTable} the emulated device reads and writes by guest-physical address; and the
 * front-end's own addresses of the regions, in which it gives the vring addresses.
 */
final class FrontendMemory implements AutoCloseable {
    private final MemoryTable table;
    private final ImmutableList<VhostUserMessage.MemRegion> regions;

    private FrontendMemory(MemoryTable table, List<VhostUserMessage.MemRegion> regions) {
        this.table = table;
        this.regions = ImmutableList.copyOf(regions);
    }

    /**
     * Maps {@code regions}, the i-th from {@code fds[i]}; takes the fds (closed on failure too). A
     * layout the memory table refuses (unaligned, overlapping, empty) or a region its fd cannot hold
     * is an {@link IllegalArgumentException}; a failed {@code mmap} a {@link SysException}.
     */
    static FrontendMemory map(List<VhostUserMessage.MemRegion> regions, List<Fd> fds) throws SysException {
        MemoryTable.Builder builder = MemoryTable.builder().maxRegions(VhostUserMessage.MAX_MEM_REGIONS);
        for (int i = 0; i < regions.size(); i++) {
            VhostUserMessage.MemRegion r = regions.get(i);
            builder.mapped(r.guestAddress(), r.size(), fds.get(i), r.mmapOffset());
        }
        return new FrontendMemory(builder.build(), regions);
    }

    MemoryTable table() {
        return table;
    }

    /**
     * The guest-physical address of {@code [address, address + length)} given in the front-end's
     * address space, which must lie inside one region; {@code what} names it in the error.
     */
    long toGuestPhysical(long address, long length, String what) {
        for (VhostUserMessage.MemRegion r : regions) {
            long offset = address - r.userAddress();
            if (Long.compareUnsigned(offset, r.size()) < 0 && Long.compareUnsigned(length, r.size() - offset) <= 0) {
                return r.guestAddress() + offset;
            }
        }
        throw new IllegalArgumentException(String.format(
                "%s at front-end address 0x%x (+%d) is not inside one region " + "of the memory table",
                what, address, length));
    }

    @Override
    public void close() {
        table.close();
    }
}
