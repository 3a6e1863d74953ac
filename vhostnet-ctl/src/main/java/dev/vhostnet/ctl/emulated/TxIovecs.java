package dev.vhostnet.ctl.emulated;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.memtable.MemoryTable;
import io.netty.channel.unix.Buffer;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Limits;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A TX chain's readable buffers as an array of {@code struct iovec}
 * ({@code <bits/types/struct_iovec.h>}: {@code void *iov_base; size_t iov_len;}) holding host
 * addresses of guest memory, written to the tap with one {@code writev(2)} through Netty's
 * {@link FileDescriptor#writevAddresses} (one buffer alone with {@code write(2)}): the single copy of
 * QEMU's {@code net/tap.c tap_write_packet}. The array is native memory made once per queue pair,
 * as many entries as a chain can have buffers (the ring size) up to {@code IOV_MAX}; writing one
 * allocates nothing. Every address comes from {@link MemoryTable#translate}, which checks again that
 * the buffer lies in one region, as the chain walk did.
 */
final class TxIovecs {
    /** {@code sizeof(struct iovec)} on LP64. */
    private static final int IOVEC_SIZE = 16;

    private final MemoryTable memory;
    private final ByteBuffer iovecs;
    private final long address;
    private final int capacity;

    TxIovecs(MemoryTable memory, int ringSize) {
        Preconditions.checkState(Buffer.addressSize() == 8, "struct iovec is laid out for 64-bit addresses here");
        this.memory = memory;
        this.capacity = Math.min(ringSize, Limits.IOV_MAX);
        this.iovecs = ByteBuffer.allocateDirect(capacity * IOVEC_SIZE).order(ByteOrder.nativeOrder());
        this.address = Buffer.memoryAddress(iovecs);
    }

    /** Whether {@code chain}'s readable buffers fit the array; a longer chain is to be copied. */
    boolean fits(DescriptorChain chain) {
        return chain.readableCount() <= capacity;
    }

    /**
     * Writes the readable bytes of {@code chain} from byte {@code skip} on (past a header the tap does
     * not take) to {@code tap}: one buffer with {@code write(2)}, which costs the kernel less than a
     * {@code writev(2)} of one iovec, more with one {@code writev}. Returns the bytes written (0: the
     * tap would block); a tap takes a frame whole or not at all.
     */
    long write(FileDescriptor tap, DescriptorChain chain, long skip) throws IOException {
        int count = 0;
        for (int i = 0; i < chain.readableCount(); i++) {
            long length = chain.readableLength(i);
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long gpa = chain.readableGpa(i) + skip;
            length -= skip;
            skip = 0;
            int at = count++ * IOVEC_SIZE;
            iovecs.putLong(at, memory.translate(gpa, length));
            iovecs.putLong(at + 8, length);
        }
        if (count == 1) {
            return tap.writeAddress(iovecs.getLong(0), 0, (int) iovecs.getLong(8));
        }
        return tap.writevAddresses(address, count);
    }
}
