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
            throw failure("memfd_create(" + name + ")", e, errno -> errno == Errno.EINVAL.number()
                    && (flags & Mman.MFD_HUGETLB) != 0
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

    /** {@code gettid(2)}: the calling thread's kernel thread id, for {@link #tgkill}. */
    public static int gettid() {
        return LibC.gettid();
    }

    /**
     * {@code tgkill(2)}: sends {@code signal} to thread {@code tid} of this process, e.g. to make a
     * vCPU thread's {@code KVM_RUN} return with {@code EINTR}.
     */
    public static void tgkill(int tid, int signal) throws SysException {
        try {
            LibC.tgkill(LibC.getpid(), tid, signal);
        } catch (LastErrorException e) {
            throw failure("tgkill(" + tid + ", " + signal + ")", e, Hint.NONE);
        }
    }

    static SysException failure(String call, LastErrorException e, Hint hint) {
        int errno = e.getErrorCode();
        return new SysException(call, errno, hint.forErrno(errno));
    }
}
