package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;

/**
 * A vhost-user request or connection that failed, with what kind of failure it was ({@link Kind})
 * and so whether a new connection may help ({@link #shouldReconnect()}, rust-vmm's
 * {@code vhost_user::Error::should_reconnect}). A {@link SysException} so that it travels through
 * {@link dev.vhostnet.ctl.vhost.VhostBackend} like a failed ioctl; its errno is the kind's.
 */
public final class VhostUserException extends SysException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Kind {
        /** The peer broke the protocol: a malformed or unexpected message ({@code EPROTO}). */
        PROTOCOL(Errno.EPROTO),
        /** The peer answered and said no: a non-zero {@code REPLY_ACK}, an empty {@code GET_CONFIG} ({@code EIO}). */
        REFUSED(Errno.EIO),
        /** The peer is gone or was never there: closed, reset, hung up mid-message, nothing listening ({@code ECONNRESET}). */
        DISCONNECTED(Errno.ECONNRESET),
        /** Not possible over vhost-user, or not with the features negotiated ({@code EOPNOTSUPP}). */
        UNSUPPORTED(Errno.EOPNOTSUPP),
        /** No peer connected, or no reply came, in the time given ({@code ETIMEDOUT}). */
        TIMEOUT(Errno.ETIMEDOUT),
        /** A wait for a back-end given up because the device was closed ({@code ECANCELED}). */
        CANCELLED(Errno.ECANCELED);

        private final Errno errno;

        Kind(Errno errno) {
            this.errno = errno;
        }

        /** The errno a failure of this kind reports. */
        public Errno errno() {
            return errno;
        }
    }

    private final Kind kind;

    private VhostUserException(Kind kind, String call, int errno, String detail) {
        super(call, errno, detail);
        this.kind = Preconditions.checkNotNull(kind, "kind");
    }

    private VhostUserException(Kind kind, String call, Errno errno, String detail) {
        this(kind, call, errno.number(), detail);
    }

    private VhostUserException(Kind kind, String call, String detail) {
        this(kind, call, kind.errno(), detail);
    }

    public Kind kind() {
        return kind;
    }

    /**
     * Whether a new connection may succeed where this one failed: only when the peer went away
     * ({@link Kind#DISCONNECTED}; rust-vmm's {@code PartialMessage} and {@code SocketBroken}). A peer
     * that breaks the protocol or refuses would do the same again; a timeout has used the time given.
     */
    public boolean shouldReconnect() {
        return kind == Kind.DISCONNECTED;
    }

    static VhostUserException protocol(String call, String detail) {
        return new VhostUserException(Kind.PROTOCOL, call, detail);
    }

    static VhostUserException protocol(VhostUserRequest request, String detail) {
        return protocol(request.specName(), detail);
    }

    static VhostUserException refused(String call, String detail) {
        return new VhostUserException(Kind.REFUSED, call, detail);
    }

    /** A refusal with its own errno (a socket path that is not a socket: {@code EEXIST}). */
    static VhostUserException refused(String call, Errno errno, String detail) {
        return new VhostUserException(Kind.REFUSED, call, errno, detail);
    }

    /** A refusal the system made (a socket path the listener may not take), with its call, errno and hint. */
    static VhostUserException refused(SysException e) {
        return new VhostUserException(Kind.REFUSED, e.call(), e.errno(), e.hint());
    }

    static VhostUserException disconnected(String call, String detail) {
        return new VhostUserException(Kind.DISCONNECTED, call, detail);
    }

    /** A peer that could not be reached: nothing listening ({@code ECONNREFUSED}), no socket there. */
    static VhostUserException unreachable(String call, String detail) {
        return new VhostUserException(Kind.DISCONNECTED, call, Errno.ECONNREFUSED, detail);
    }

    static VhostUserException unsupported(String call, String detail) {
        return new VhostUserException(Kind.UNSUPPORTED, call, detail);
    }

    static VhostUserException timeout(String call, String detail) {
        return new VhostUserException(Kind.TIMEOUT, call, detail);
    }

    static VhostUserException cancelled(String call, String detail) {
        return new VhostUserException(Kind.CANCELLED, call, detail);
    }

    /** The same failure, of the same kind, named by the step that made it ({@code reconnect(...)}). */
    VhostUserException during(String call, String detail) {
        return new VhostUserException(kind, call, errno(), detail);
    }
}
