package dev.vhostnet.sys;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Route netlink requests ({@code AF_NETLINK}/{@code NETLINK_ROUTE}, {@code <linux/rtnetlink.h>}),
 * in the calling thread's network namespace.
 */
public final class Netlink {
    private Netlink() {}

    /**
     * {@code RTM_DELLINK} for interface {@code index} ({@code ip link delete}): removes a tap even
     * while other processes hold fds on it. {@code name} is for the error message.
     */
    public static void deleteLink(int index, String name) throws SysException {
        String call = "RTM_DELLINK " + name + " (index " + index + ")";
        try (Fd socket = Syscalls.socket(NetlinkUapi.AF_NETLINK, NetlinkUapi.SOCK_RAW, NetlinkUapi.NETLINK_ROUTE)) {
            int length = NetlinkUapi.NLMSGHDR_SIZE + NetlinkUapi.IFINFOMSG_SIZE;
            Memory request = new Memory(length);
            request.clear();
            request.setInt(0, length);
            request.setShort(NetlinkUapi.NLMSG_TYPE, (short) NetlinkUapi.RTM_DELLINK);
            request.setShort(NetlinkUapi.NLMSG_FLAGS, (short) (NetlinkUapi.NLM_F_REQUEST | NetlinkUapi.NLM_F_ACK));
            request.setInt(NetlinkUapi.NLMSG_SEQ, 1);
            request.setInt(NetlinkUapi.NLMSGHDR_SIZE + NetlinkUapi.IFI_INDEX, index);
            socket.write(request, length);
            if ((socket.poll(PollUapi.POLLIN, 5000) & PollUapi.POLLIN) == 0) {
                throw new SysException(call, Errno.ETIMEDOUT.number(), "no answer from the kernel in 5 s");
            }
            Memory reply = new Memory(4096);
            long n = socket.read(reply, reply.size());
            ByteBuffer answer = ByteBuffer.wrap(reply.getByteArray(0, (int) n)).order(ByteOrder.nativeOrder());
            if (n >= NetlinkUapi.NLMSGERR_ERROR + 4 && (answer.getShort(NetlinkUapi.NLMSG_TYPE) & 0xffff) == NetlinkUapi.NLMSG_ERROR) {
                int error = answer.getInt(NetlinkUapi.NLMSGERR_ERROR);
                if (error != 0) {
                    throw new SysException(call, -error, null);
                }
            }
        }
    }
}
