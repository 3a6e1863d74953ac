package dev.vhostnet.tap;

import com.google.common.base.Preconditions;
import java.util.Arrays;
import java.util.HexFormat;

/** A 6-byte Ethernet address, as {@code ifr_hwaddr.sa_data} carries it. */
public final class MacAddress {
    private static final HexFormat COLONS = HexFormat.ofDelimiter(":");

    private final byte[] bytes;

    private MacAddress(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The address of these 6 bytes. */
    public static MacAddress of(byte... bytes) {
        Preconditions.checkArgument(bytes.length == 6, "an Ethernet address has 6 bytes, not %s", bytes.length);
        return new MacAddress(bytes.clone());
    }

    /** Parses {@code 02:00:5e:10:00:01} (six colon-separated hex octets). */
    public static MacAddress parse(String text) {
        Preconditions.checkArgument(
                text.matches("\\p{XDigit}{2}(:\\p{XDigit}{2}){5}"),
                "not an Ethernet address (want six hex octets as 02:00:5e:10:00:01): %s",
                text);
        return new MacAddress(COLONS.parseHex(text));
    }

    /** A copy of the 6 bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Whether the group bit (the low bit of the first octet) is clear. */
    public boolean isUnicast() {
        return (bytes[0] & 1) == 0;
    }

    /** Whether all six bytes are zero. */
    public boolean isZero() {
        for (byte b : bytes) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MacAddress m && Arrays.equals(bytes, m.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** Lower-case, colon-separated, as {@code ip link} prints it. */
    @Override
    public String toString() {
        return COLONS.formatHex(bytes);
    }
}
