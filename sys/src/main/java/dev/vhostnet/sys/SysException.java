package dev.vhostnet.sys;

import java.io.IOException;

/**
 * A failed system call: names the call (with its object, e.g. {@code open(/dev/vhost-net)} or
 * {@code ioctl VHOST_SET_MEM_TABLE on /dev/vhost-net}), the errno and, where known, the fix.
 */
public class SysException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;
    private final String hint;

    public SysException(String call, int errno, String hint) {
        super(message(call, errno, hint));
        this.call = call;
        this.errno = errno;
        this.hint = hint;
    }

    private static String message(String call, int errno, String hint) {
        String base = call + ": " + Errno.nameOf(errno) + " (" + LibC.strerror(errno) + ")";
        return hint == null || hint.isEmpty() ? base : base + " — " + hint;
    }

    /** The call that failed, with the object it was made on. */
    public String call() {
        return call;
    }

    /** The {@code errno} the call set. */
    public int errno() {
        return errno;
    }

    /** Whether the call failed with this errno. */
    public boolean is(Errno e) {
        return errno == e.number();
    }

    /** What to do about it, or {@code null} when nothing specific is known. */
    public String hint() {
        return hint;
    }

    /** The same failure with a hint added by a caller that knows more about the context. */
    public SysException withHint(String newHint) {
        SysException e = new SysException(call, errno, newHint);
        e.setStackTrace(getStackTrace());
        return e;
    }
}
