package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.SysException;

/**
 * A vhost-user request that failed: the back-end refused it ({@code REPLY_ACK} non-zero), answered
 * with a malformed reply, closed the connection, or the request has no vhost-user form; or no
 * back-end could be reached on the socket in time. A
 * {@link SysException} so that it travels through {@link dev.vhostnet.ctl.vhost.VhostBackend} like a failed ioctl.
 */
public final class VhostUserException extends SysException {
    private static final long serialVersionUID = 1L;

    /** {@code EPROTO}: the back-end broke the protocol (malformed or unexpected reply). */
    public static final int EPROTO = 71;
    /** {@code EIO}: the socket failed, or the back-end refused a request. */
    public static final int EIO = 5;
    /** {@code EOPNOTSUPP}: no vhost-user equivalent, or the back-end lacks the feature. */
    public static final int EOPNOTSUPP = 95;
    /** {@code ETIMEDOUT}: no back-end connected, or accepted the connection, in time. */
    public static final int ETIMEDOUT = 110;
    /** {@code ECANCELED}: the device was closed while it waited for a back-end. */
    public static final int ECANCELED = 125;

    public VhostUserException(String call, int errno, String detail) {
        super(call, errno, detail);
    }

    static VhostUserException protocol(VhostUserRequest request, String detail) {
        return new VhostUserException(request.specName(), EPROTO, detail);
    }
}
