package dev.vhostnet.ctl.ring;

import com.google.common.base.Preconditions;

/** One guest buffer of a descriptor chain: {@code len} bytes at guest-physical {@code gpa}. */
public record Segment(long gpa, int len) {
    public Segment {
        Preconditions.checkArgument(len > 0, "a segment needs a positive length, not %s", len);
        Preconditions.checkArgument(
                gpa >= 0 && gpa + len > gpa,
                "segment [gpa 0x%s, +%s) is not a valid guest range",
                Long.toHexString(gpa),
                len);
    }
}
