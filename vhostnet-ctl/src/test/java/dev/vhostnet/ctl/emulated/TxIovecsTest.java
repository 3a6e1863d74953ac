package dev.vhostnet.ctl.emulated;

import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.ctl.device.DeviceQueue;
import dev.vhostnet.ctl.device.RawRing;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.FileDescriptor;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A TX chain written with one {@code writev} from guest memory, here into a pipe instead of a tap. */
class TxIovecsTest {
    static final long BUF = 0x100000;

    MemoryTable memory;
    FileDescriptor[] pipe;

    @BeforeEach
    void open() throws Exception {
        Epoll.ensureAvailability();
        memory = MemoryTable.builder().region(0, 4 << 20).build();
        pipe = FileDescriptor.pipe();
    }

    @AfterEach
    void close() throws Exception {
        pipe[0].close();
        pipe[1].close();
        memory.close();
    }

    /** Header (12 bytes) in a descriptor of its own, 1500 bytes of data over three, each elsewhere in memory. */
    DescriptorChain headerThenDataInThreeParts(byte[] bytes) {
        long[] at = {BUF + 0x8000, BUF, BUF + 0x3003, BUF + 0x1000};
        int[] len = {12, 7, 1000, 493};
        RawRing ring = new RawRing(memory, VringLayout.contiguous(0, 8)).clear();
        int from = 0;
        for (int d = 0; d < at.length; d++) {
            memory.write(at[d], bytes, from, len[d]);
            from += len[d];
            ring.desc(d, at[d], len[d], d + 1 < at.length ? VRING_DESC_F_NEXT : 0, d + 1);
        }
        ring.post(0);
        DescriptorChain chain = new DescriptorChain();
        assertTrue(new DeviceQueue(memory, ring.layout, FeatureSet.NONE, "tx").popInto(chain));
        return chain;
    }

    byte[] readPipe(int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        int n = pipe[0].read(b, 0, length);
        byte[] out = new byte[n];
        b.get(0, out);
        return out;
    }

    /** Headers the tap takes or not, a skip that ends inside a descriptor, one that leaves one buffer (write, not writev). */
    @ParameterizedTest
    @ValueSource(ints = {0, 12, 17, 1019})
    void writesTheChainFromTheSkipOnByteExactWhateverDescriptorItEndsIn(int skip) throws Exception {
        byte[] bytes = new byte[1512];
        new Random(skip).nextBytes(bytes);
        DescriptorChain chain = headerThenDataInThreeParts(bytes);
        TxIovecs iovecs = new TxIovecs(memory, 8);

        assertEquals(1512 - skip, iovecs.write(pipe[1], chain, skip));
        assertArrayEquals(Arrays.copyOfRange(bytes, skip, 1512), readPipe(2000));
    }

    @Test
    void aChainOfMoreBuffersThanIovMaxIsLeftToTheCopy() throws Exception {
        int size = 2048;
        RawRing ring = new RawRing(memory, VringLayout.contiguous(0, size)).clear();
        for (int d = 0; d < 1025; d++) {
            memory.putByte(BUF + 2L * d, (byte) d);
            ring.desc(d, BUF + 2L * d, 1, d + 1 < 1025 ? VRING_DESC_F_NEXT : 0, d + 1);
        }
        ring.desc(1025, BUF, 1, VRING_DESC_F_NEXT, 1026).desc(1026, BUF + 2, 1, 0, 0);
        ring.post(0, 1025);
        DeviceQueue queue = new DeviceQueue(memory, ring.layout, FeatureSet.NONE, "tx");
        TxIovecs iovecs = new TxIovecs(memory, size);
        DescriptorChain chain = new DescriptorChain();

        assertTrue(queue.popInto(chain));
        assertEquals(1025, chain.readableCount());
        assertFalse(iovecs.fits(chain), "IOV_MAX is 1024");
        assertTrue(queue.popInto(chain));
        assertTrue(iovecs.fits(chain));
        assertEquals(2, iovecs.write(pipe[1], chain, 0));
        assertArrayEquals(new byte[] {0, 1}, readPipe(16));
    }
}
