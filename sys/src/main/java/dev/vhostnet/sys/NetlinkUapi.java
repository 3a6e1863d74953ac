package dev.vhostnet.sys;

/**
 * {@code <linux/netlink.h>}, {@code <linux/rtnetlink.h>} and {@code <linux/if_link.h>}: what deleting
 * a link and reading a tap's link attributes take.
 */
public final class NetlinkUapi {
    private NetlinkUapi() {}

    public static final int AF_NETLINK = 16;
    public static final int SOCK_RAW = 3;
    public static final int NETLINK_ROUTE = 0;
    public static final int RTM_NEWLINK = 16;
    public static final int RTM_DELLINK = 17;
    public static final int RTM_GETLINK = 18;
    public static final int NLMSG_ERROR = 2;
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_ACK = 0x4;
    /** The type bits of an attribute's {@code nla_type} (without {@code NLA_F_NESTED}, {@code NLA_F_NET_BYTEORDER}). */
    @CExpr("(unsigned short) NLA_TYPE_MASK")
    public static final int NLA_TYPE_MASK = 0x3fff;
    /** {@code u8}: whether the link has carrier (a tap: whether any queue is attached). */
    public static final int IFLA_CARRIER = 33;

    public static final int IFLA_LINKINFO = 18;
    public static final int IFLA_INFO_DATA = 2;
    /** {@code u32}, multi-queue taps only: the queues attached and enabled. */
    public static final int IFLA_TUN_NUM_QUEUES = 8;
    /** {@code u32}, multi-queue taps only: queues attached but disabled ({@code TUNSETQUEUE} {@code IFF_DETACH_QUEUE}). */
    public static final int IFLA_TUN_NUM_DISABLED_QUEUES = 9;

    @CExpr("sizeof(struct nlmsghdr)")
    public static final int NLMSGHDR_SIZE = 16;

    @CExpr("sizeof(struct ifinfomsg)")
    public static final int IFINFOMSG_SIZE = 16;

    @CExpr("offsetof(struct nlmsghdr, nlmsg_type)")
    public static final int NLMSG_TYPE = 4;

    @CExpr("offsetof(struct nlmsghdr, nlmsg_flags)")
    public static final int NLMSG_FLAGS = 6;

    @CExpr("offsetof(struct nlmsghdr, nlmsg_seq)")
    public static final int NLMSG_SEQ = 8;

    @CExpr("sizeof(struct rtattr)")
    public static final int RTA_HDR_SIZE = 4;

    @CExpr("offsetof(struct rtattr, rta_len)")
    public static final int RTA_LEN = 0;

    @CExpr("offsetof(struct rtattr, rta_type)")
    public static final int RTA_TYPE = 2;

    @CExpr("offsetof(struct ifinfomsg, ifi_index)")
    public static final int IFI_INDEX = 4;
    /** Where an {@code NLMSG_ERROR} answer's {@code int error} is: after the header. */
    @CExpr("NLMSG_HDRLEN + offsetof(struct nlmsgerr, error)")
    public static final int NLMSGERR_ERROR = 16;
}
