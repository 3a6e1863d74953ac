package dev.vhostnet.sys;

import com.google.common.collect.ImmutableMap;
import java.util.Arrays;
import java.util.function.Function;

/** Error numbers of {@code <asm-generic/errno-base.h>} and {@code <asm-generic/errno.h>} the project names. */
public enum Errno {
    EPERM(1),
    ENOENT(2),
    ESRCH(3),
    EINTR(4),
    EIO(5),
    ENXIO(6),
    E2BIG(7),
    EBADF(9),
    EAGAIN(11),
    ENOMEM(12),
    EACCES(13),
    EFAULT(14),
    EBUSY(16),
    EEXIST(17),
    ENODEV(19),
    ENOTDIR(20),
    EISDIR(21),
    EINVAL(22),
    ENFILE(23),
    EMFILE(24),
    ENOTTY(25),
    ENOSPC(28),
    ESPIPE(29),
    EROFS(30),
    EPIPE(32),
    ERANGE(34),
    ENOSYS(38),
    EPROTO(71),
    EBADFD(77),
    ENOTSOCK(88),
    EOPNOTSUPP(95),
    EADDRINUSE(98),
    ECONNRESET(104),
    ENOBUFS(105),
    ETIMEDOUT(110),
    ECONNREFUSED(111),
    ECANCELED(125);

    private static final ImmutableMap<Integer, Errno> BY_NUMBER = Arrays.stream(values())
            .collect(ImmutableMap.toImmutableMap(e -> e.number, Function.identity(), (a, b) -> a));

    private final int number;

    Errno(int number) {
        this.number = number;
    }

    /** The value of {@code errno}. */
    public int number() {
        return number;
    }

    /** The symbolic name of an errno value, or {@code "errno N"} for one this enum does not name. */
    public static String nameOf(int number) {
        Errno e = BY_NUMBER.get(number);
        return e != null ? e.name() : "errno " + number;
    }
}
