package dev.vhostnet.sys;

/** {@code <linux/netlink.h>} and {@code <linux/rtnetlink.h>}: what deleting a link takes. */
public final class NetlinkUapi {
    private NetlinkUapi() {}

    public static final int AF_NETLINK = 16;
    public static final int SOCK_RAW = 3;
    public static final int NETLINK_ROUTE = 0;
    public static final int RTM_DELLINK = 17;
    public static final int NLMSG_ERROR = 2;
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_ACK = 0x4;

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
    @CExpr("offsetof(struct ifinfomsg, ifi_index)")
    public static final int IFI_INDEX = 4;
    /** Where an {@code NLMSG_ERROR} answer's {@code int error} is: after the header. */
    @CExpr("NLMSG_HDRLEN + offsetof(struct nlmsgerr, error)")
    public static final int NLMSGERR_ERROR = 16;
}
