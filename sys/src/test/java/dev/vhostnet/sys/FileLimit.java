package dev.vhostnet.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * This process's open-file limit ({@code RLIMIT_NOFILE}, {@code <sys/resource.h>}), for tests that
 * make {@code accept}, {@code open} or {@code memfd_create} fail with {@code EMFILE} in-process: a
 * child could not be spawned at the limit to lift it again, {@code prlimit(2)} on itself can.
 */
public final class FileLimit {
    public static final int RLIMIT_NOFILE = 7;

    static {
        Native.register(FileLimit.class, NativeLibrary.getInstance("c"));
    }

    private FileLimit() {}

    private static native int prlimit(int pid, int resource, long[] newLimit, long[] oldLimit)
            throws LastErrorException;

    /** Sets the soft limit to {@code soft} (the hard one kept) and returns the soft limit it replaced. */
    public static long setSoft(long soft) {
        long[] old = new long[2];
        prlimit(0, RLIMIT_NOFILE, null, old);
        prlimit(0, RLIMIT_NOFILE, new long[] {soft, old[1]}, null);
        return old[0];
    }
}
