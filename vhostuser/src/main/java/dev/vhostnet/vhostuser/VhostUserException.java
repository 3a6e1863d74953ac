package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.SysException;

/**
 * A vhost-user request that failed: the back-end refused it ({@code REPLY_ACK} non-zero), answered
 * with a malformed reply, closed the connection, or the request has no vhost-user form. A
 * {@link SysException} so that it travels through {@link dev.vhostnet.ctl.VhostBackend} like a failed ioctl.
 */
public final class VhostUserException extends SysException {
    private static final long serialVersionUID = 1L;

    /** {@code EPROTO}: the back-end broke the protocol (malformed or unexpected reply). */
    public static final int EPROTO = 71;
    /** {@code EIO}: the socket failed, or the back-end refused a request. */
    public static final int EIO = 5;
    /** {@code EOPNOTSUPP}: no vhost-user equivalent, or the back-end lacks the feature. */
    public static final int EOPNOTSUPP = 95;

    public VhostUserException(String call, int errno, String detail) {
        super(call, errno, detail);
    }

    static VhostUserException protocol(VhostUserRequest request, String detail) {
        return new VhostUserException(request.specName(), EPROTO, detail);
    }
}
