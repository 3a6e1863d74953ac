package dev.vhostnet.sys;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * Route netlink requests ({@code AF_NETLINK}/{@code NETLINK_ROUTE}, {@code <linux/rtnetlink.h>}),
 * in the calling thread's network namespace.
 */
public final class Netlink {
    /** Room for one {@code RTM_NEWLINK} answer (its statistics alone take about 1 KiB). */
    private static final int ANSWER_BYTES = 32 << 10;

    private Netlink() {}

    /**
     * {@code RTM_DELLINK} for interface {@code index} ({@code ip link delete}): removes a tap even
     * while other processes hold fds on it. {@code name} is for the error message.
     */
    public static void deleteLink(int index, String name) throws SysException {
        request(
                NetlinkUapi.RTM_DELLINK,
                NetlinkUapi.NLM_F_ACK,
                index,
                "RTM_DELLINK " + name + " (index " + index + ")");
    }

    /**
     * {@code RTM_GETLINK} for interface {@code index} ({@code ip -d link show}): its attributes,
     * {@code IFLA_*} type to payload. Read nested ones ({@code IFLA_LINKINFO}) with {@link #attributes}.
     */
    public static Map<Integer, ByteBuffer> getLink(int index, String name) throws SysException {
        ByteBuffer answer =
                request(NetlinkUapi.RTM_GETLINK, 0, index, "RTM_GETLINK " + name + " (index " + index + ")");
        int start = NetlinkUapi.NLMSGHDR_SIZE + NetlinkUapi.IFINFOMSG_SIZE;
        return attributes(answer.slice(start, Math.min(answer.getInt(0), answer.limit()) - start)
                .order(ByteOrder.nativeOrder()));
    }

    /** The {@code struct rtattr}s in {@code payload}, type (without the nested flag) to payload. */
    public static Map<Integer, ByteBuffer> attributes(ByteBuffer payload) {
        Map<Integer, ByteBuffer> attributes = new HashMap<>();
        int at = 0;
        while (at + NetlinkUapi.RTA_HDR_SIZE <= payload.limit()) {
            int length = payload.getShort(at + NetlinkUapi.RTA_LEN) & 0xffff;
            if (length < NetlinkUapi.RTA_HDR_SIZE || at + length > payload.limit()) {
                break;
            }
            int type = payload.getShort(at + NetlinkUapi.RTA_TYPE) & NetlinkUapi.NLA_TYPE_MASK;
            attributes.put(
                    type,
                    payload.slice(at + NetlinkUapi.RTA_HDR_SIZE, length - NetlinkUapi.RTA_HDR_SIZE)
                            .order(ByteOrder.nativeOrder()));
            at += (length + 3) & ~3; // RTA_ALIGN
        }
        return attributes;
    }

    /** Sends one {@code ifinfomsg} request for {@code index}; returns the answer ({@code NLMSG_ERROR} with an errno is thrown). */
    private static ByteBuffer request(int type, int flags, int index, String call) throws SysException {
        try (Fd socket = Syscalls.socket(NetlinkUapi.AF_NETLINK, NetlinkUapi.SOCK_RAW, NetlinkUapi.NETLINK_ROUTE)) {
            int length = NetlinkUapi.NLMSGHDR_SIZE + NetlinkUapi.IFINFOMSG_SIZE;
            Memory request = new Memory(length);
            request.clear();
            request.setInt(0, length);
            request.setShort(NetlinkUapi.NLMSG_TYPE, (short) type);
            request.setShort(NetlinkUapi.NLMSG_FLAGS, (short) (NetlinkUapi.NLM_F_REQUEST | flags));
            request.setInt(NetlinkUapi.NLMSG_SEQ, 1);
            request.setInt(NetlinkUapi.NLMSGHDR_SIZE + NetlinkUapi.IFI_INDEX, index);
            socket.write(request, length);
            if ((socket.poll(PollUapi.POLLIN, 5000) & PollUapi.POLLIN) == 0) {
                throw new SysException(call, Errno.ETIMEDOUT.number(), "no answer from the kernel in 5 s");
            }
            Memory reply = new Memory(ANSWER_BYTES);
            long n = socket.read(reply, reply.size());
            ByteBuffer answer = ByteBuffer.wrap(reply.getByteArray(0, (int) n)).order(ByteOrder.nativeOrder());
            if (n >= NetlinkUapi.NLMSGERR_ERROR + 4
                    && (answer.getShort(NetlinkUapi.NLMSG_TYPE) & 0xffff) == NetlinkUapi.NLMSG_ERROR) {
                int error = answer.getInt(NetlinkUapi.NLMSGERR_ERROR);
                if (error != 0) {
                    throw new SysException(call, -error, null);
                }
            }
            return answer;
        }
    }
}
