package dev.vhostnet.driver;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Direct views of guest memory, resolved once so the data path neither looks addresses up nor
 * allocates. Little-endian: virtio 1.0's byte order, and the native one of the hosts this runs on
 * (legacy virtio is guest-native). A view is valid while its {@link MemoryTable} is open.
 */
final class GuestView {
    private GuestView() {}

    /** {@code [gpa, gpa + length)}, which must lie inside one region of {@code memory}. */
    static ByteBuffer of(MemoryTable memory, long gpa, long length) {
        Preconditions.checkArgument(
                length > 0 && length <= Integer.MAX_VALUE, "a guest view needs 1 to 2^31-1 bytes, not %s", length);
        return memory.view(gpa, (int) length).order(ByteOrder.LITTLE_ENDIAN);
    }
}
