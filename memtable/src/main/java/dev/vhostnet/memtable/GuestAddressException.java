package dev.vhostnet.memtable;

/** A guest-physical range that is not wholly inside one region of guest memory. */
public final class GuestAddressException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final long gpa;
    private final long length;

    GuestAddressException(long gpa, long length, String why) {
        super(String.format("guest range [0x%x, +%d) %s", gpa, length, why));
        this.gpa = gpa;
        this.length = length;
    }

    public long gpa() {
        return gpa;
    }

    public long length() {
        return length;
    }
}
