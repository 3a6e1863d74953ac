package dev.vhostnet.vhostuser;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Exact bytes of each message kind against the layouts of vhost-user.rst ("Message Specification"). */
class VhostUserMessageTest {
    private static final HexFormat HEX = HexFormat.of();

    @BeforeAll
    static void littleEndian() {
        assumeTrue(
                ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN,
                "the expected bytes are written for a little-endian host");
    }

    private static byte[] hex(String s) {
        return HEX.parseHex(s.replace(" ", ""));
    }

    @Test
    void requestIdsAreTheSpecs() {
        // vhost-user.rst, "Front-end message types", the :id: of each entry.
        int[][] expected = {
            {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}, {7, 7}, {8, 8}, {9, 9}, {10, 10}, {11, 11}, {12, 12},
            {13, 13}, {14, 14}, {15, 15}, {16, 16}, {17, 17}, {18, 18}, {19, 19}, {20, 20}, {24, 24}, {25, 25}, {36, 36}
        };
        VhostUserRequest[] all = VhostUserRequest.values();
        assertEquals(expected.length, all.length);
        for (int i = 0; i < all.length; i++) {
            assertEquals(expected[i][1], all[i].id(), all[i].specName());
            assertEquals(all[i], VhostUserRequest.of(all[i].id()));
        }
    }

    @Test
    void headerOfARequestWithoutPayload() {
        // request 3 (SET_OWNER), flags version 1, size 0
        assertArrayEquals(
                hex("03000000 01000000 00000000"),
                VhostUserMessage.request(VhostUserRequest.SET_OWNER, false, VhostUserMessage.empty()));
    }

    @Test
    void needReplyIsBit3() {
        assertArrayEquals(
                hex("03000000 09000000 00000000"),
                VhostUserMessage.request(VhostUserRequest.SET_OWNER, true, VhostUserMessage.empty()));
    }

    @Test
    void u64Payload() {
        assertArrayEquals(
                hex("02000000 01000000 08000000 0807060504030201"),
                VhostUserMessage.request(
                        VhostUserRequest.SET_FEATURES, false, VhostUserMessage.u64(0x0102030405060708L)));
    }

    @Test
    void vringStatePayload() {
        assertArrayEquals(
                hex("08000000 01000000 08000000 03000000 00010000"),
                VhostUserMessage.request(VhostUserRequest.SET_VRING_NUM, false, VhostUserMessage.vringState(3, 256)));
    }

    @Test
    void vringAddrPayloadIs40BytesWithoutASizeField() {
        byte[] m = VhostUserMessage.request(
                VhostUserRequest.SET_VRING_ADDR,
                false,
                VhostUserMessage.vringAddr(1, VhostUserMessage.VRING_F_LOG, 0x1000, 0x3000, 0x2000, 0x4000));
        assertArrayEquals(
                hex("09000000 01000000 28000000"
                        + "01000000 01000000"
                        + "0010000000000000 0030000000000000 0020000000000000 0040000000000000"),
                m);
    }

    @Test
    void memTablePayloadCarriesOnlyTheRegionsInUse() {
        byte[] p = VhostUserMessage.memTable(List.of(
                new VhostUserMessage.MemRegion(0, 0x4000000, 0x7f0000000000L, 0),
                new VhostUserMessage.MemRegion(0x100000000L, 0x1000, 0x7f1000000000L, 0)));
        assertEquals(8 + 2 * 32, p.length);
        assertArrayEquals(hex("02000000 00000000"), java.util.Arrays.copyOfRange(p, 0, 8));
        assertArrayEquals(
                hex("0000000000000000 0000000400000000 00000000007f0000 0000000000000000"),
                java.util.Arrays.copyOfRange(p, 8, 40));
        assertArrayEquals(
                hex("0000000001000000 0010000000000000 00000000107f0000 0000000000000000"),
                java.util.Arrays.copyOfRange(p, 40, 72));
    }

    @Test
    void memTableRejectsMoreThanEightRegions() {
        List<VhostUserMessage.MemRegion> nine =
                java.util.Collections.nCopies(9, new VhostUserMessage.MemRegion(0, 1, 1, 0));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> VhostUserMessage.memTable(nine));
        assertTrue(e.getMessage().contains("1 to 8 regions"), e.getMessage());
    }

    @Test
    void vringFilePayloadHasIndexAndNoFdFlag() {
        assertArrayEquals(
                hex("0c000000 01000000 08000000 0500000000000000"),
                VhostUserMessage.request(VhostUserRequest.SET_VRING_KICK, false, VhostUserMessage.vringFile(5, false)));
        assertArrayEquals(
                hex("0d000000 01000000 08000000 0501000000000000"),
                VhostUserMessage.request(VhostUserRequest.SET_VRING_CALL, false, VhostUserMessage.vringFile(5, true)));
        assertThrows(IllegalArgumentException.class, () -> VhostUserMessage.vringFile(256, false));
    }

    @Test
    void configPayload() {
        assertArrayEquals(
                hex("04000000 02000000 00000000 aabb"),
                VhostUserMessage.config(4, 0, new byte[] {(byte) 0xaa, (byte) 0xbb}));
    }

    @Test
    void decodesAWellFormedReply() throws Exception {
        VhostUserMessage.Header h = VhostUserMessage.decodeHeader(hex("01000000 05000000 08000000"));
        VhostUserMessage.checkReplyHeader(VhostUserRequest.GET_FEATURES, h);
        assertEquals(0x40000000L, VhostUserMessage.decodeU64(VhostUserRequest.GET_FEATURES, hex("0000004000000000")));
        assertEquals(
                9, VhostUserMessage.decodeVringState(VhostUserRequest.GET_VRING_BASE, 1, hex("01000000 09000000")));
    }

    @Test
    void rejectsAReplyWithoutTheReplyBit() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.checkReplyHeader(
                        VhostUserRequest.GET_FEATURES,
                        VhostUserMessage.decodeHeader(hex("01000000 01000000 08000000"))));
        assertTrue(e.getMessage().startsWith("VHOST_USER_GET_FEATURES"), e.getMessage());
        assertTrue(e.getMessage().contains("no REPLY bit"), e.getMessage());
    }

    @Test
    void rejectsAnotherVersion() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.checkReplyHeader(
                        VhostUserRequest.GET_FEATURES,
                        VhostUserMessage.decodeHeader(hex("01000000 06000000 08000000"))));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void rejectsAReplyToAnotherRequest() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.checkReplyHeader(
                        VhostUserRequest.GET_FEATURES,
                        VhostUserMessage.decodeHeader(hex("0f000000 05000000 08000000"))));
        assertTrue(e.getMessage().contains("VHOST_USER_GET_PROTOCOL_FEATURES"), e.getMessage());
    }

    @Test
    void rejectsAHugeOrNegativeSize() {
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.checkReplyHeader(
                        VhostUserRequest.GET_FEATURES,
                        VhostUserMessage.decodeHeader(hex("01000000 05000000 00100100"))));
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.checkReplyHeader(
                        VhostUserRequest.GET_FEATURES,
                        VhostUserMessage.decodeHeader(hex("01000000 05000000 ffffffff"))));
    }

    @Test
    void rejectsPayloadsOfTheWrongSize() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeU64(VhostUserRequest.GET_QUEUE_NUM, hex("01000000")));
        assertTrue(e.getMessage().startsWith("VHOST_USER_GET_QUEUE_NUM"), e.getMessage());
        assertTrue(e.getMessage().contains("4 payload bytes; a u64 is 8"), e.getMessage());
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeVringState(
                        VhostUserRequest.GET_VRING_BASE, 0, hex("00000000 00000000 00")));
    }

    @Test
    void rejectsAVringStateForAnotherVring() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeVringState(VhostUserRequest.GET_VRING_BASE, 1, hex("00000000 09000000")));
        assertTrue(e.getMessage().contains("vring 0, not 1"), e.getMessage());
    }

    @Test
    void rejectsAConfigReplyOfAnotherSizeOrAnEmptyOne() {
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeConfig(
                        VhostUserRequest.GET_CONFIG, 0, 2, hex("00000000 03000000 00000000 aabbcc")));
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeConfig(VhostUserRequest.GET_CONFIG, 0, 2, new byte[0]));
        assertThrows(
                VhostUserException.class,
                () -> VhostUserMessage.decodeConfig(
                        VhostUserRequest.GET_CONFIG, 0, 2, hex("00000000 02000000 00000000 aa")));
    }
}
