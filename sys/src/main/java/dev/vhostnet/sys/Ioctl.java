package dev.vhostnet.sys;

import com.google.common.base.Preconditions;

/**
 * An ioctl request: its C macro name (used in error messages and checked against the kernel
 * headers by the layout test) and its number, encoded as {@code <asm-generic/ioctl.h>} does.
 */
public record Ioctl(String name, long number) {
    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;
    private static final long NONE = 0;
    private static final long WRITE = 1;
    private static final long READ = 2;

    public Ioctl {
        Preconditions.checkNotNull(name, "name");
    }

    /** {@code _IO(type, nr)}: no argument. */
    public static Ioctl io(String name, int type, int nr) {
        return new Ioctl(name, encode(NONE, type, nr, 0));
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes {@code size} bytes to the argument. */
    public static Ioctl ior(String name, int type, int nr, int size) {
        return new Ioctl(name, encode(READ, type, nr, size));
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads {@code size} bytes from the argument. */
    public static Ioctl iow(String name, int type, int nr, int size) {
        return new Ioctl(name, encode(WRITE, type, nr, size));
    }

    /** {@code _IOWR(type, nr, size)}: both directions. */
    public static Ioctl iowr(String name, int type, int nr, int size) {
        return new Ioctl(name, encode(READ | WRITE, type, nr, size));
    }

    private static long encode(long dir, int type, int nr, int size) {
        Preconditions.checkArgument(type >= 0 && type < (1 << TYPEBITS), "ioctl type %s out of range", type);
        Preconditions.checkArgument(nr >= 0 && nr < (1 << NRBITS), "ioctl nr %s out of range", nr);
        Preconditions.checkArgument(size >= 0 && size < (1 << SIZEBITS), "ioctl size %s out of range", size);
        return (dir << DIRSHIFT) | ((long) size << SIZESHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT);
    }

    @Override
    public String toString() {
        return name + "(0x" + Long.toHexString(number) + ")";
    }
}
