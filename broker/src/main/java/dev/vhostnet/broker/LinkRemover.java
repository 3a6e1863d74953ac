package dev.vhostnet.broker;

import com.sun.jna.Memory;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.PollUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Deletes a network interface by index with one {@code RTM_DELLINK} on an {@code AF_NETLINK} /
 * {@code NETLINK_ROUTE} socket ({@code ip link delete}), in the calling thread's network namespace.
 * This is how the broker removes a tap whose fds a client still holds: closing the broker's own
 * fds would not, as the tap lives while any fd on it is open.
 *
 * <p>Layouts ({@code <linux/netlink.h>}, {@code <linux/rtnetlink.h>}, host byte order): the
 * request is a 16-byte {@code struct nlmsghdr} (len, type, flags, seq, pid) and a 16-byte
 * {@code struct ifinfomsg} (family, pad, type, index, flags, change); the answer an
 * {@code NLMSG_ERROR} whose {@code int error} follows its header (0 = done, else {@code -errno}).
 * The one place outside {@code sys} that touches JNA memory (for {@link Fd#write}); it belongs in
 * {@code sys}/{@code tap} as a netlink helper when one is added there.
 */
final class LinkRemover {
    static final int AF_NETLINK = 16;
    static final int SOCK_RAW = 3;
    static final int NETLINK_ROUTE = 0;
    static final int RTM_DELLINK = 17;
    static final int NLMSG_ERROR = 2;
    static final int NLM_F_REQUEST = 0x1;
    static final int NLM_F_ACK = 0x4;
    static final int NLMSGHDR_SIZE = 16;
    static final int IFINFOMSG_SIZE = 16;

    private LinkRemover() {}

    /** {@code RTM_DELLINK} for interface {@code index}; {@code name} is for the error message. */
    static void delete(int index, String name) throws SysException {
        try (Fd socket = Syscalls.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)) {
            int length = NLMSGHDR_SIZE + IFINFOMSG_SIZE;
            ByteBuffer msg = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
            msg.putInt(length).putShort((short) RTM_DELLINK).putShort((short) (NLM_F_REQUEST | NLM_F_ACK))
                    .putInt(1).putInt(0);
            msg.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(index).putInt(0).putInt(0);
            Memory out = new Memory(length);
            out.write(0, msg.array(), 0, length);
            socket.write(out, length);
            if ((socket.poll(PollUapi.POLLIN, 5000) & PollUapi.POLLIN) == 0) {
                throw new SysException("RTM_DELLINK " + name + " (index " + index + ")", 110 /* ETIMEDOUT */,
                        "no answer from the kernel in 5 s");
            }
            Memory in = new Memory(4096);
            long n = socket.read(in, in.size());
            ByteBuffer answer = ByteBuffer.wrap(in.getByteArray(0, (int) n)).order(ByteOrder.nativeOrder());
            if (n >= NLMSGHDR_SIZE + 4 && (answer.getShort(4) & 0xffff) == NLMSG_ERROR) {
                int error = answer.getInt(NLMSGHDR_SIZE);
                if (error != 0) {
                    throw new SysException("RTM_DELLINK " + name + " (index " + index + ")", -error, null);
                }
            }
        }
    }
}
