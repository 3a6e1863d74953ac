package dev.vhostnet.sys;

import com.sun.jna.LastErrorException;

/** System calls that create a descriptor, and the one place a failed call becomes a {@link SysException}. */
public final class Syscalls {
    private Syscalls() {}

    /** {@code memfd_create(2)}; {@code MFD_CLOEXEC} is always added. */
    public static Fd memfdCreate(String name, int flags) throws SysException {
        try {
            return Fd.adopt(LibC.memfd_create(name, flags | Mman.MFD_CLOEXEC), "memfd:" + name);
        } catch (LastErrorException e) {
            throw failure(
                    "memfd_create(" + name + ")",
                    e,
                    errno -> errno == Errno.EINVAL.number() && (flags & Mman.MFD_HUGETLB) != 0
                            ? "the kernel refused MFD_HUGETLB with this page size: check /sys/kernel/mm/hugepages"
                            : null);
        }
    }

    /** {@code eventfd(2)}. */
    public static Fd eventfd(int initval, int flags) throws SysException {
        try {
            return Fd.adopt(LibC.eventfd(initval, flags), "eventfd");
        } catch (LastErrorException e) {
            throw failure("eventfd", e, Hint.NONE);
        }
    }

    /** {@code socket(2)}, for the ioctls that act on interfaces ({@code SIOCSIFFLAGS} and kin). */
    public static Fd socket(int domain, int type, int protocol) throws SysException {
        try {
            return Fd.adopt(LibC.socket(domain, type | Fcntl.O_CLOEXEC, protocol), "socket");
        } catch (LastErrorException e) {
            throw failure("socket(" + domain + ", " + type + ")", e, Hint.NONE);
        }
    }

    /**
     * {@code setns(2)}: moves the calling thread into the namespace {@code ns} refers to. For a
     * network namespace, sockets and taps this thread creates afterwards belong to it.
     */
    public static void setns(Fd ns, int nstype) throws SysException {
        try {
            LibC.setns(ns.get(), nstype);
        } catch (LastErrorException e) {
            throw failure("setns(" + ns.what() + ")", e, Hint.NONE);
        }
    }

    /**
     * {@code renameat2(2)} with {@code RENAME_NOREPLACE}: moves {@code name} of directory {@code dir}
     * to {@code to}, failing with {@code EEXIST} instead of replacing whatever is there.
     */
    public static void renameNoReplace(Fd dir, String name, String to) throws SysException {
        try {
            LibC.renameat2(dir.get(), name, Fcntl.AT_FDCWD, to, Fcntl.RENAME_NOREPLACE);
        } catch (LastErrorException e) {
            throw failure(
                    "renameat2(" + dir.what() + "/" + name + ", " + to + ", RENAME_NOREPLACE)",
                    e,
                    errno -> errno == Errno.EEXIST.number()
                            ? "something appeared at " + to + " meanwhile: nothing was replaced"
                            : null);
        }
    }

    /** {@code geteuid(2)}: the user this process acts as. */
    public static int geteuid() {
        return LibC.geteuid();
    }

    /** The exception for a failed call: {@code hint}'s advice, else the advice for running out of descriptors. */
    static SysException failure(String call, LastErrorException e, Hint hint) {
        int errno = e.getErrorCode();
        String advice = hint.forErrno(errno);
        if (advice == null && errno == Errno.EMFILE.number()) {
            advice = "this process has as many descriptors open as it may: raise the open files limit "
                    + "(ulimit -n, RLIMIT_NOFILE, LimitNOFILE= of a systemd unit)";
        }
        return new SysException(call, errno, advice);
    }
}
